// A test can reset its container itself, mid-test. 'soft' ends every MCP session on the container (each took
// its pages, cookies and storage with it) and keeps the browser running; mcpContainer.client is then a new
// session with a fresh context. 'medium' also kills the browser and stray processes and empties the server's
// temporary files; 'hard' restarts the server. Here: two customers, one container, one test.
import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';
import { READ_CART_STATE, type CartState } from './support/shop-state.js';

test('a soft reset gives the next customer a fresh browser', async ({ mcpContainer }) => {
  let browser = await McpBrowser.of(mcpContainer);
  await browser.open('/');
  await browser.click('button', 'Add Cinnamon Roll to cart');
  expect(await browser.evaluate<CartState>(READ_CART_STATE)).toEqual({ items: { 'cinnamon-roll': 1 }, cookieCount: 1 });

  await mcpContainer.reset('soft');

  browser = await McpBrowser.of(mcpContainer);
  const page = await browser.open('/');
  expect(page.has('link', 'Cart (0)')).toBe(true);
  expect(await browser.evaluate<CartState>(READ_CART_STATE)).toEqual({ items: null, cookieCount: null });
});
