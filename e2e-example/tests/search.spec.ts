// Low priority, like the rest of browsing: see catalog.spec.ts.
import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';

test.use({ priority: 'low' });

test('typing in the search box filters the products', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  await browser.open('/');

  const page = await browser.type('searchbox', 'Search products', 'cinnamon');

  // Hidden cards drop out of the accessibility tree, so the snapshot shows exactly what a user sees.
  expect(page.findAll('button', /^Add /).map((b) => b.name)).toEqual(['Add Cinnamon Roll to cart', 'Add Ceylon Cinnamon Sticks to cart']);
});

test('a search without matches says so', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  await browser.open('/');

  const page = await browser.type('searchbox', 'Search products', 'saffron');

  expect(page.findAll('button', /^Add /)).toHaveLength(0);
  expect(page.texts('paragraph')).toContain('No products match your search.');
});
