import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';
import { READ_CART_STATE, type CartState } from './support/shop-state.js';

test.describe('cart', () => {
  // 'high' for this group only: the cart is on every customer's path. `priority` can be set on a file,
  // a describe group (as here) or a project's `use`.
  test.use({ priority: 'high' });

  test('adding from a product page updates the badge, localStorage and the cookie', async ({ mcpContainer }) => {
    const browser = await McpBrowser.of(mcpContainer);
    await browser.open('/products/cinnamon-roll');

    await browser.click('button', 'Add Cinnamon Roll to cart');
    const page = await browser.click('button', 'Add Cinnamon Roll to cart');

    expect(page.has('link', 'Cart (2)')).toBe(true);
    expect(page.texts('status')).toContain('Cinnamon Roll added to your cart (2 in cart).');
    expect(await browser.evaluate<CartState>(READ_CART_STATE)).toEqual({ items: { 'cinnamon-roll': 2 }, cookieCount: 2 });
  });

  test('the cart lists lines with a total, and removing the last line empties it', async ({ mcpContainer }) => {
    const browser = await McpBrowser.of(mcpContainer);
    await browser.open('/');
    await browser.click('button', 'Add Chai Tea Blend to cart');
    await browser.click('button', 'Add Apple Pie Spice to cart');

    let page = await browser.open('/cart');
    expect(page.names('rowheader')).toEqual(['Chai Tea Blend', 'Apple Pie Spice']);
    expect(page.texts('paragraph')).toContain('Total: $14.50');

    await browser.click('button', 'Remove Chai Tea Blend');
    page = await browser.click('button', 'Remove Apple Pie Spice');

    expect(page.texts('paragraph')).toContain('Your cart is empty.');
    expect(page.has('link', 'Cart (0)')).toBe(true);
  });
});
