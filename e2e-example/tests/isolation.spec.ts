// Both tests run one after the other in the same worker, on the same leased container. Each leaves items
// in the cart; each starts with an empty one, because the pool soft-resets the container's browser between
// tests. Nothing here asks for that: it is what the fixture guarantees.
import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';
import { READ_CART_STATE, type CartState } from './support/shop-state.js';

for (const product of ['Cardamom Bun', 'Cinnamon Roll']) {
  test(`starts with an empty cart, then leaves a ${product} in it`, async ({ mcpContainer }) => {
    const browser = await McpBrowser.of(mcpContainer);
    const page = await browser.open('/');

    expect(page.has('link', 'Cart (0)')).toBe(true);
    expect(await browser.evaluate<CartState>(READ_CART_STATE)).toEqual({ items: null, cookieCount: null });

    const after = await browser.click('button', `Add ${product} to cart`);
    expect(after.has('link', 'Cart (1)')).toBe(true);
  });
}
