/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** Tagged template that escapes every interpolated value unless it was produced by `html` itself. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += renderValue(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function renderValue(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(renderValue).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

export interface LayoutOptions {
  title: string;
  /** Cart item count read from the `cart_count` cookie, so the header is right before any script runs. */
  cartCount: number;
  body: Html;
}

/**
 * Every page shares this shell. The cart link's accessible name carries the count ("Cart (2)"): specs read it
 * from the snapshot, which is how a user would see it too.
 */
export function layout({ title, cartCount, body }: LayoutOptions): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Cinnamon Shop</title>
<link rel="stylesheet" href="/static/style.css">
<script type="module" src="/static/shop.js"></script>
</head>
<body>
<header>
  <a class="brand" href="/">Cinnamon Shop</a>
  <nav aria-label="Main">
    <a href="/">Products</a>
    <a href="/slow">Sales report</a>
    <a href="/cart" data-cart-link>Cart (${cartCount})</a>
  </nav>
</header>
<main>
${body}
</main>
<footer>An example app for @cinnamon-qa/containers. Nothing here is for sale.</footer>
</body>
</html>
`.text;
}
