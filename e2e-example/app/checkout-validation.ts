import { findProduct } from './catalog.js';

export const COUNTRIES = ['Germany', 'Japan', 'United Kingdom', 'United States'] as const;

/** What the checkout form posts. Every field is a string because that is what a urlencoded body carries. */
export interface CheckoutForm {
  name: string;
  email: string;
  address: string;
  country: string;
  terms: string;
  /** JSON `{ [productId]: quantity }`, copied from localStorage by the page script on submit. */
  cart: string;
}

export type CheckoutField = keyof CheckoutForm;

export type CheckoutResult =
  | { ok: true; items: Array<{ productId: string; quantity: number }> }
  | { ok: false; errors: Partial<Record<CheckoutField, string>> };

/**
 * Validated on the server only (the form is `novalidate`): the browser's own validation bubbles do not show
 * up in an accessibility snapshot, while server-rendered messages do, so specs can read them.
 */
export function validateCheckout(form: CheckoutForm): CheckoutResult {
  const errors: Partial<Record<CheckoutField, string>> = {};
  if (form.name.trim().length < 2) errors.name = 'Enter your full name.';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(form.email.trim())) errors.email = 'Enter an email address like name@example.com.';
  if (form.address.trim().length < 5) errors.address = 'Enter a delivery address.';
  if (!(COUNTRIES as readonly string[]).includes(form.country)) errors.country = 'Choose a country we deliver to.';
  if (form.terms !== 'on') errors.terms = 'Accept the terms to place the order.';

  const items = parseCart(form.cart);
  if (items.length === 0) errors.cart = 'Your cart is empty: add something before checking out.';

  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, items };
}

function parseCart(json: string): Array<{ productId: string; quantity: number }> {
  let raw: unknown;
  try {
    raw = JSON.parse(json || '{}');
  } catch {
    return [];
  }
  if (raw === null || typeof raw !== 'object') return [];
  return Object.entries(raw as Record<string, unknown>)
    .filter(([id, qty]) => findProduct(id) !== undefined && Number.isInteger(qty) && (qty as number) > 0)
    .map(([productId, quantity]) => ({ productId, quantity: quantity as number }));
}
