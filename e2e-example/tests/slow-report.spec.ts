// A test that knows it is slow asks the pool for more time instead of everyone raising the global timeout.
// The pool grants a bounded number of extensions per test (timeouts.maxExtensions) and records each one,
// so the analytics show which tests keep needing them.
import { test, expect } from '../../fixtures/index.js';
import { McpBrowser } from './support/mcp-browser.js';

test('the sales report arrives after the back end is done', async ({ mcpContainer }) => {
  const extension = await mcpContainer.requestTimeoutExtension(20_000, 'the sales report waits on a slow back end');
  expect(extension.granted, extension.reason).toBe(true);
  // The fixture applied the new budget to this very test.
  expect(test.info().timeout).toBe(extension.timeoutMs);

  const browser = await McpBrowser.of(mcpContainer);
  const page = await browser.open('/slow?delay=3000');

  expect(page.has('heading', 'Sales report')).toBe(true);
  expect(page.texts('status')).toEqual(['Report ready after 3000 ms.']);
});
