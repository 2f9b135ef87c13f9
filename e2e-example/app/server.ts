/**
 * The example shop's HTTP server: Node's http module only, so the example needs nothing beyond `npm ci`.
 *
 *   PORT  default 4173
 *   HOST  default 0.0.0.0 — not 127.0.0.1: browsers in Docker containers reach the host through the bridge
 *         (host.docker.internal), which a loopback-only server would refuse.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { findProduct } from './catalog.js';
import { validateCheckout, type CheckoutForm } from './checkout-validation.js';
import { layout, type Html } from './layout.js';
import { cartPage, checkoutPage, notFoundPage, orderConfirmedPage, productListPage, productPage, slowReportPage } from './pages.js';

const PORT = Number(process.env.PORT ?? 4173);
const HOST = process.env.HOST ?? '0.0.0.0';
/** @defaultValue 2000 ms: long enough to notice, short enough for a quick run. */
const DEFAULT_SLOW_DELAY_MS = 2_000;
/** A cap so a typo in `?delay=` cannot hang a test run. */
const MAX_SLOW_DELAY_MS = 30_000;
/** Checkout bodies are a handful of fields; anything bigger is not a browser filling this form. */
const MAX_BODY_BYTES = 64 * 1024;

const STATIC_FILES: Readonly<Record<string, string>> = {
  '/static/shop.js': 'text/javascript; charset=utf-8',
  '/static/style.css': 'text/css; charset=utf-8',
};
const publicDir = fileURLToPath(new URL('./public/', import.meta.url));

let nextOrderNumber = 1001;

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    console.error('[shop] request failed:', error);
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Internal error');
  });
});

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://shop.invalid');
  const cartCount = readCartCount(req.headers.cookie);
  const page = (status: number, title: string, body: Html, headers: Record<string, string | string[]> = {}): void => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(layout({ title, cartCount, body }));
  };

  // Answered so that browsers log no 404 for it: a console error in a spec's output should mean something.
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'GET' && url.pathname === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    return;
  }
  const contentType = STATIC_FILES[url.pathname];
  if (req.method === 'GET' && contentType) {
    const body = await readFile(publicDir + url.pathname.slice('/static/'.length));
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' }).end(body);
    return;
  }
  if (req.method === 'GET' && url.pathname === '/') return page(200, 'Products', productListPage());

  const productMatch = /^\/products\/([a-z0-9-]+)$/.exec(url.pathname);
  if (req.method === 'GET' && productMatch) {
    const product = findProduct(productMatch[1] ?? '');
    return product ? page(200, product.name, productPage(product)) : page(404, 'Not found', notFoundPage(url.pathname));
  }
  if (req.method === 'GET' && url.pathname === '/cart') return page(200, 'Cart', cartPage());
  if (req.method === 'GET' && url.pathname === '/checkout') return page(200, 'Checkout', checkoutPage());
  if (req.method === 'POST' && url.pathname === '/checkout') {
    const form = readCheckoutForm(await readBody(req));
    const result = validateCheckout(form);
    if (!result.ok) return page(422, 'Checkout', checkoutPage({ values: form, errors: result.errors }));
    const orderId = `A-${nextOrderNumber++}`;
    // The order is placed, so the cart is over: expire the cookie here; the page script clears localStorage.
    return page(200, 'Order confirmed', orderConfirmedPage(orderId, form.name.trim(), result.items), {
      'set-cookie': 'cart_count=0; Path=/; Max-Age=0; SameSite=Lax',
    });
  }
  if (req.method === 'GET' && url.pathname === '/slow') {
    const requested = Number(url.searchParams.get('delay') ?? DEFAULT_SLOW_DELAY_MS);
    const delayMs = Number.isFinite(requested) ? Math.min(Math.max(0, Math.round(requested)), MAX_SLOW_DELAY_MS) : DEFAULT_SLOW_DELAY_MS;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return page(200, 'Sales report', slowReportPage(delayMs));
  }
  page(404, 'Not found', notFoundPage(url.pathname));
}

function readCartCount(cookieHeader: string | undefined): number {
  const match = /(?:^|;\s*)cart_count=(\d{1,4})(?:;|$)/.exec(cookieHeader ?? '');
  return match ? Number(match[1]) : 0;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readCheckoutForm(body: string): CheckoutForm {
  const params = new URLSearchParams(body);
  const get = (name: string): string => params.get(name) ?? '';
  return { name: get('name'), email: get('email'), address: get('address'), country: get('country'), terms: get('terms'), cart: get('cart') };
}

server.listen(PORT, HOST, () => {
  console.log(`[shop] Cinnamon Shop listening on http://${HOST}:${PORT}`);
});

// Playwright's webServer stops us with SIGTERM; close at once, including keep-alive connections from browsers.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
