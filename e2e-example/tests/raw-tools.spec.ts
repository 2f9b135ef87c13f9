// The same kind of check as elsewhere, without tests/support: `mcpContainer.client` is a plain MCP SDK
// client connected to this test's container, and every browser action is one tool call.
import { test, expect } from '../../fixtures/index.js';

test.use({ priority: 'high' });

test('calling the MCP tools directly', async ({ mcpContainer }) => {
  const { client } = mcpContainer;

  // appUrl() rewrites a URL of this machine into one the container can reach: unchanged for the process
  // runtime, http://host.docker.internal:4173/... when the browser runs in Docker.
  await client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:4173/products/chai-blend') } });

  const snapshot = await client.callTool({ name: 'browser_snapshot', arguments: {} });
  const text = (snapshot.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? '').join('\n');
  expect(text).toContain('heading "Chai Tea Blend" [level=1]');

  // Refs come from the snapshot; tool argument names come from the server (`target` in @playwright/mcp
  // 0.0.83, `ref` before): read them from listTools() instead of hard-coding one version.
  const ref = /button "Add Chai Tea Blend to cart" \[ref=([^\]]+)\]/.exec(text)?.[1];
  expect(ref, 'add button in the snapshot').toBeDefined();
  const { tools } = await client.listTools();
  const click = tools.find((t) => t.name === 'browser_click');
  const targetArg = click?.inputSchema.properties && 'target' in click.inputSchema.properties ? 'target' : 'ref';
  await client.callTool({ name: 'browser_click', arguments: { element: 'Add Chai Tea Blend to cart', [targetArg]: ref } });

  const result = await client.callTool({ name: 'browser_evaluate', arguments: { function: '() => document.cookie' } });
  expect(JSON.stringify(result.content)).toContain('cart_count=1');
});
