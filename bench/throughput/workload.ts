import { expect } from '@playwright/test';
import { McpBrowser, type McpContainerLike } from '../../e2e-example/tests/support/mcp-browser.js';

/** What every variant's fixture hands a test: the surface McpBrowser needs, nothing pool-specific. */
export interface WorkloadFixtures {
  mcpContainer: McpContainerLike;
}

/** The example shop's products (e2e-example/app/catalog.ts), named as the pages show them. */
const PRODUCTS = [
  { id: 'cinnamon-roll', name: 'Cinnamon Roll' },
  { id: 'cardamom-bun', name: 'Cardamom Bun' },
  { id: 'ceylon-sticks', name: 'Ceylon Cinnamon Sticks' },
  { id: 'chai-blend', name: 'Chai Tea Blend' },
  { id: 'apple-pie-spice', name: 'Apple Pie Spice' },
] as const;

/**
 * The part of a Playwright `test` the workload calls. Structural, so the pool's `test` (where mcpContainer is
 * a worker fixture) and the bench's own (test fixtures) both fit.
 */
export type WorkloadTest = (title: string, body: (args: WorkloadFixtures) => Promise<void>) => void;

/** Tests per run; the issue fixes it at 40. */
export const WORKLOAD_TESTS = 40;

/**
 * The one workload all variants run: each test navigates to a page of the shop, clicks, and reads the page
 * from a fresh snapshot. Half start on a product page and add it to the cart, half start on the home page and
 * follow a product link, so both a same-page update and a navigation are in the mix. The variants differ only
 * in the `test` (its fixtures) passed in; the test bodies are this code, byte for byte.
 */
export function defineWorkload(test: WorkloadTest): void {
  for (let i = 0; i < WORKLOAD_TESTS; i++) {
    const product = PRODUCTS[i % PRODUCTS.length]!;
    if (i % 2 === 0) {
      test(`#${String(i + 1).padStart(2, '0')} add ${product.id} to the cart`, async ({ mcpContainer }) => {
        const browser = await McpBrowser.of(mcpContainer);
        await browser.open(`/products/${product.id}`);
        const page = await browser.click('button', `Add ${product.name} to cart`);
        expect(page.texts('status')).toContain(`${product.name} added to your cart (1 in cart).`);
      });
    } else {
      test(`#${String(i + 1).padStart(2, '0')} open ${product.id} from the list`, async ({ mcpContainer }) => {
        const browser = await McpBrowser.of(mcpContainer);
        await browser.open('/');
        const page = await browser.click('link', product.name);
        expect(page.has('heading', product.name)).toBe(true);
      });
    }
  }
}
