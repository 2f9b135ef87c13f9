// The same kind of check as elsewhere, without tests/support: `mcpContainer.client` is a plain MCP SDK
// client connected to this test's container, and every browser action is one tool call.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
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

// A client of your own: only the holder of this container's lease reaches it, so send `mcpContainer.headers`
// (the lease's credential) with every request. Without them the container answers 401.
test('a client of your own: mcpContainer.url with mcpContainer.headers', async ({ mcpContainer }) => {
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'no credential', version: '1' } } };
  const refused = await fetch(mcpContainer.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify(initialize),
  });
  expect(refused.status).toBe(401);

  const transport = new StreamableHTTPClientTransport(new URL(mcpContainer.url), { requestInit: { headers: mcpContainer.headers } });
  const client = new Client({ name: 'my own client', version: '1' });
  await client.connect(transport);
  try {
    await client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:4173/') } });
    const snapshot = await client.callTool({ name: 'browser_snapshot', arguments: {} });
    expect(JSON.stringify(snapshot.content)).toContain('Cinnamon Roll');
  } finally {
    // Ends the session on the server (its browser context with it); the pool would end it at the lease's end.
    await transport.terminateSession();
    await client.close();
  }
});
