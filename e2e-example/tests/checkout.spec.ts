// Critical: checkout is what the business cannot lose, so these tests get a container before any other
// waiting test. Set once for the whole file.
import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';
import { READ_CART_STATE, type CartState } from './support/shop-state.js';

test.use({ priority: 'critical' });

test('an empty form is refused with one message per problem', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  await browser.open('/checkout');

  const page = await browser.click('button', 'Place order');

  expect(page.has('heading', 'Please fix 6 problems')).toBe(true);
  expect(page.texts('listitem')).toEqual([
    'Enter your full name.',
    'Enter an email address like name@example.com.',
    'Enter a delivery address.',
    'Choose a country we deliver to.',
    'Accept the terms to place the order.',
    'Your cart is empty: add something before checking out.',
  ]);
});

test('a filled form places the order and empties the cart', async ({ mcpContainer }) => {
  const browser = await McpBrowser.of(mcpContainer);
  await browser.open('/products/ceylon-sticks');
  await browser.click('button', 'Add Ceylon Cinnamon Sticks to cart');
  await browser.open('/checkout');

  await browser.fillForm([
    { type: 'textbox', name: 'Full name', value: 'Ada Lovelace' },
    { type: 'textbox', name: 'Email', value: 'ada@example.com' },
    { type: 'textbox', name: 'Address', value: '12 Analytical Row, London' },
    { type: 'combobox', name: 'Country', value: 'United Kingdom' },
    { type: 'checkbox', name: 'I accept the terms of sale', value: 'true' },
  ]);
  const page = await browser.click('button', 'Place order');

  expect(page.has('heading', /^Order A-\d+ confirmed$/)).toBe(true);
  expect(page.texts('paragraph')).toContain('Thank you, Ada Lovelace! 1 item, $6.50 in total.');
  expect(await browser.evaluate<CartState>(READ_CART_STATE)).toEqual({ items: null, cookieCount: null });
});
