// No test.use: these tests run at the default priority, 'normal'.
import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';

test('a product page shows name, price and an add button', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  const page = await browser.open('/products/cardamom-bun');

  expect(page.has('heading', 'Cardamom Bun')).toBe(true);
  expect(page.texts('paragraph')).toContain('$4.00');
  expect(page.has('button', 'Add Cardamom Bun to cart')).toBe(true);
});

test('an unknown product is a friendly 404', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  const page = await browser.open('/products/nutmeg-latte');

  expect(page.has('heading', 'Page not found')).toBe(true);
  expect(page.has('link', 'Back to the products')).toBe(true);
});
