import { PRODUCTS, findProduct, formatPrice, type Product } from './catalog.js';
import { COUNTRIES, type CheckoutField, type CheckoutForm } from './checkout-validation.js';
import { Html, html } from './layout.js';

export function productListPage(): Html {
  return html`
<h1>Products</h1>
<label class="search">Search products <input type="search" name="q" data-product-search autocomplete="off"></label>
<p data-search-empty hidden>No products match your search.</p>
<ul class="products" aria-label="Products">
  ${PRODUCTS.map(
    (p) => html`
  <li class="card" data-product-card="${p.id}" data-name="${p.name.toLowerCase()}">
    <h2><a href="/products/${p.id}">${p.name}</a></h2>
    <p class="price">${formatPrice(p.priceCents)}</p>
    ${addButton(p)}
  </li>`,
  )}
</ul>`;
}

export function productPage(product: Product): Html {
  return html`
<nav aria-label="Breadcrumb"><a href="/">All products</a></nav>
<article class="product">
  <h1>${product.name}</h1>
  <p class="price">${formatPrice(product.priceCents)}</p>
  <p>${product.description}</p>
  ${addButton(product)}
  <p role="status" data-added-message></p>
</article>`;
}

/** One accessible name per product ("Add Cinnamon Roll to cart"), so a snapshot ref is unambiguous. */
function addButton(p: Product): Html {
  return html`<button type="button" data-add-to-cart="${p.id}" data-name="${p.name}" data-price="${p.priceCents}">Add ${p.name} to cart</button>`;
}

/** Rendered empty: the lines come from localStorage, which only the browser has. */
export function cartPage(): Html {
  const catalogue = Object.fromEntries(PRODUCTS.map((p) => [p.id, { name: p.name, priceCents: p.priceCents }]));
  return html`
<h1>Your cart</h1>
<div data-cart-root>
  <p data-cart-empty>Your cart is empty.</p>
  <table data-cart-table hidden aria-label="Cart items">
    <thead><tr><th scope="col">Product</th><th scope="col">Quantity</th><th scope="col">Subtotal</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
    <tbody data-cart-lines></tbody>
  </table>
  <p class="total" data-cart-total hidden></p>
  <p data-cart-checkout hidden><a class="button" href="/checkout">Proceed to checkout</a></p>
</div>
<script type="application/json" id="catalogue">${jsonForScript(catalogue)}</script>`;
}

/**
 * JSON inside a <script> element is not entity-decoded by the browser, so it must not go through `html`'s
 * escaping; `<` is written as \u003c instead so no product name can close the script element early.
 */
function jsonForScript(value: unknown): Html {
  return new Html(JSON.stringify(value).replace(/</g, '\\u003c'));
}

export interface CheckoutPageOptions {
  values?: Partial<CheckoutForm>;
  errors?: Partial<Record<CheckoutField, string>>;
}

export function checkoutPage({ values = {}, errors = {} }: CheckoutPageOptions = {}): Html {
  const messages = Object.values(errors);
  const field = (name: CheckoutField, label: string, type: string, autocomplete: string): Html => html`
  <div class="field">
    <label for="${name}">${label}</label>
    <input id="${name}" name="${name}" type="${type}" autocomplete="${autocomplete}" value="${values[name] ?? ''}"
      ${errors[name] ? html`aria-invalid="true" aria-describedby="${name}-error"` : ''}>
    ${errors[name] ? html`<p class="error" id="${name}-error">${errors[name]}</p>` : ''}
  </div>`;
  return html`
<h1>Checkout</h1>
${messages.length > 0
  ? html`<div class="error-summary" role="alert"><h2>Please fix ${messages.length} problem${messages.length > 1 ? 's' : ''}</h2><ul>${messages.map((m) => html`<li>${m}</li>`)}</ul></div>`
  : ''}
<form method="post" action="/checkout" novalidate data-checkout-form aria-label="Checkout">
  ${field('name', 'Full name', 'text', 'name')}
  ${field('email', 'Email', 'email', 'email')}
  ${field('address', 'Address', 'text', 'street-address')}
  <div class="field">
    <label for="country">Country</label>
    <select id="country" name="country" ${errors.country ? html`aria-invalid="true"` : ''}>
      <option value="">Choose…</option>
      ${COUNTRIES.map((c) => html`<option ${values.country === c ? 'selected' : ''}>${c}</option>`)}
    </select>
    ${errors.country ? html`<p class="error">${errors.country}</p>` : ''}
  </div>
  <div class="field checkbox">
    <input id="terms" name="terms" type="checkbox" ${values.terms === 'on' ? 'checked' : ''}>
    <label for="terms">I accept the terms of sale</label>
    ${errors.terms ? html`<p class="error">${errors.terms}</p>` : ''}
  </div>
  <input type="hidden" name="cart" value="" data-cart-field>
  <button type="submit">Place order</button>
</form>`;
}

export function orderConfirmedPage(orderId: string, name: string, items: Array<{ productId: string; quantity: number }>): Html {
  const totalCents = items.reduce((sum, i) => sum + (findProduct(i.productId)?.priceCents ?? 0) * i.quantity, 0);
  const count = items.reduce((sum, i) => sum + i.quantity, 0);
  return html`
<section data-clear-cart aria-labelledby="confirmed">
  <h1 id="confirmed">Order ${orderId} confirmed</h1>
  <p>Thank you, ${name}! ${count} item${count === 1 ? '' : 's'}, ${formatPrice(totalCents)} in total.</p>
  <p><a href="/">Continue shopping</a></p>
</section>`;
}

export function slowReportPage(delayMs: number): Html {
  return html`
<h1>Sales report</h1>
<p role="status">Report ready after ${delayMs} ms.</p>
<p>The server waited on purpose: this page stands in for a slow back end (a payment sandbox, a report job).</p>`;
}

export function notFoundPage(path: string): Html {
  return html`
<h1>Page not found</h1>
<p>Nothing lives at ${path}.</p>
<p><a href="/">Back to the products</a></p>`;
}
