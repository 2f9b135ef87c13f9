import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * A plain MCP SDK session, as a team wiring Playwright MCP by hand would open one: no pool, no failure
 * mapping, no socket bookkeeping. Closing sends the session DELETE so the server drops the browser context
 * at once, as the pool's fixture does, so both pay the same per-test session cost.
 */
export async function connectMcp(url: string, timeoutMs = 30_000, headers?: Record<string, string>): Promise<{ client: Client; close(): Promise<void> }> {
  // `headers`: the credential the member's guard admits (the image's guard refuses a request without one).
  const transport = new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : undefined);
  const client = new Client({ name: 'throughput-bench', version: '1' });
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
  return {
    client,
    async close() {
      await transport.terminateSession().catch(() => undefined);
      await client.close().catch(() => undefined);
    },
  };
}
