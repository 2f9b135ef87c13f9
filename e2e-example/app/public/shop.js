// Browser side of the example shop. The cart lives in localStorage (the lines) and in a cookie (the count,
// so the server can render the header badge): two kinds of browser state a test must never inherit from
// the test before it.

const CART_KEY = 'cinnamon-shop.cart';

function readCart() {
  try {
    const cart = JSON.parse(localStorage.getItem(CART_KEY) ?? '{}');
    return cart && typeof cart === 'object' ? cart : {};
  } catch {
    return {};
  }
}

function writeCart(cart) {
  const count = Object.values(cart).reduce((sum, qty) => sum + qty, 0);
  if (count === 0) localStorage.removeItem(CART_KEY);
  else localStorage.setItem(CART_KEY, JSON.stringify(cart));
  document.cookie = `cart_count=${count}; Path=/; SameSite=Lax${count === 0 ? '; Max-Age=0' : ''}`;
  for (const link of document.querySelectorAll('[data-cart-link]')) link.textContent = `Cart (${count})`;
}

const price = (cents) => `$${(cents / 100).toFixed(2)}`;

function wireAddButtons() {
  for (const button of document.querySelectorAll('[data-add-to-cart]')) {
    button.addEventListener('click', () => {
      const cart = readCart();
      const id = button.dataset.addToCart;
      cart[id] = (cart[id] ?? 0) + 1;
      writeCart(cart);
      const message = document.querySelector('[data-added-message]');
      if (message) message.textContent = `${button.dataset.name} added to your cart (${cart[id]} in cart).`;
    });
  }
}

function wireSearch() {
  const input = document.querySelector('[data-product-search]');
  if (!input) return;
  input.addEventListener('input', () => {
    const query = input.value.trim().toLowerCase();
    let shown = 0;
    for (const card of document.querySelectorAll('[data-product-card]')) {
      const match = card.dataset.name.includes(query);
      card.hidden = !match;
      if (match) shown++;
    }
    document.querySelector('[data-search-empty]').hidden = shown > 0;
  });
}

function renderCart() {
  const root = document.querySelector('[data-cart-root]');
  if (!root) return;
  const catalogue = JSON.parse(document.getElementById('catalogue').textContent);
  const cart = readCart();
  const lines = Object.entries(cart).filter(([id]) => catalogue[id]);
  const body = root.querySelector('[data-cart-lines]');
  body.replaceChildren();
  let totalCents = 0;
  for (const [id, quantity] of lines) {
    const { name, priceCents } = catalogue[id];
    totalCents += priceCents * quantity;
    const row = document.createElement('tr');
    row.innerHTML = '<th scope="row"></th><td></td><td></td><td><button type="button"></button></td>';
    row.cells[0].textContent = name;
    row.cells[1].textContent = String(quantity);
    row.cells[2].textContent = price(priceCents * quantity);
    const remove = row.querySelector('button');
    remove.textContent = `Remove ${name}`;
    remove.addEventListener('click', () => {
      const next = readCart();
      delete next[id];
      writeCart(next);
      renderCart();
    });
    body.append(row);
  }
  const empty = lines.length === 0;
  root.querySelector('[data-cart-empty]').hidden = !empty;
  root.querySelector('[data-cart-table]').hidden = empty;
  root.querySelector('[data-cart-checkout]').hidden = empty;
  const total = root.querySelector('[data-cart-total]');
  total.hidden = empty;
  total.textContent = `Total: ${price(totalCents)}`;
}

function wireCheckout() {
  const form = document.querySelector('[data-checkout-form]');
  if (!form) return;
  // The server validates the order, so it needs the cart, which only this browser knows.
  form.addEventListener('submit', () => {
    form.querySelector('[data-cart-field]').value = JSON.stringify(readCart());
  });
}

// The confirmation page: the order is placed, so the cart is emptied (the server expired the cookie already).
if (document.querySelector('[data-clear-cart]')) writeCart({});
else writeCart(readCart()); // keeps cookie and badge in step with localStorage on every page
wireAddButtons();
wireSearch();
renderCart();
wireCheckout();
