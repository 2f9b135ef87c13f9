// Low priority: browsing checks can wait while checkout and cart tests hold the containers.
import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';

test.use({ priority: 'low' });

test('the home page lists every product with its price', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  const page = await browser.open('/');

  expect(page.find('heading', 'Products')).toBeTruthy();
  expect(page.findAll('button', /^Add .* to cart$/).map((b) => b.name)).toEqual([
    'Add Cinnamon Roll to cart',
    'Add Cardamom Bun to cart',
    'Add Ceylon Cinnamon Sticks to cart',
    'Add Chai Tea Blend to cart',
    'Add Apple Pie Spice to cart',
  ]);
  expect(page.texts('paragraph')).toContain('$9.00');
});

test('a product link opens its page', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  await browser.open('/');

  const page = await browser.click('link', 'Chai Tea Blend');

  expect(page.has('heading', 'Chai Tea Blend')).toBe(true);
  expect(page.texts('paragraph')).toContain('Black tea, cinnamon, ginger, clove and pepper.');
});
