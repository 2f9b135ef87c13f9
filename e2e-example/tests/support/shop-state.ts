/**
 * The cart as the browser holds it: lines in localStorage, the count in a cookie. Read through
 * browser_evaluate so a spec can prove a test started from a clean browser.
 */
export interface CartState {
  /** Parsed `cinnamon-shop.cart` from localStorage; null when absent. */
  items: Record<string, number> | null;
  /** The `cart_count` cookie; null when absent. */
  cookieCount: number | null;
}

/** A page function for browser_evaluate; kept as a string because it runs in the browser, not in Node. */
export const READ_CART_STATE = `() => {
  const raw = localStorage.getItem('cinnamon-shop.cart');
  const cookie = document.cookie.split('; ').find((c) => c.startsWith('cart_count='));
  return { items: raw ? JSON.parse(raw) : null, cookieCount: cookie ? Number(cookie.split('=')[1]) : null };
}`;
