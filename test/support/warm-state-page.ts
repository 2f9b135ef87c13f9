import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Allocation } from '../../src/pool/lease-allocator.js';
import { credentialHeaders } from '../../src/runtime/member-credentials.js';

/**
 * A page that leaves state in the browser (the warm-pool tests, issue 13): `/set` sets a cookie and a
 * localStorage entry, any other path only shows a page; `state()` reads both back through an MCP client
 * holding a lease, so a test can check that a run's state is gone in the next run.
 */
export interface StatePage {
  /** The URL the members' browsers open the page at. */
  readonly url: string;
  /** What the browser of `allocation` sees at `path`: `cookie=…;storage=…`, inside the tool's answer. */
  state(allocation: Allocation, path: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Serves the page on `bind` ('127.0.0.1' for the process runtime; '0.0.0.0' for Docker, whose browsers reach it
 * as `browserHost`, e.g. host.docker.internal).
 */
export async function startStatePage(bind: string, browserHost: string, clientName: string): Promise<StatePage> {
  const server = createServer((req, res) => {
    const headers: Record<string, string> = { 'content-type': 'text/html' };
    if (req.url === '/set') headers['set-cookie'] = 'warm=run1; Max-Age=3600; Path=/';
    const script = req.url === '/set' ? "<script>localStorage.setItem('warm', 'run1')</script>" : '';
    res.writeHead(200, headers).end(`<html><body><h1>warm</h1>${script}</body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, bind, resolve));
  const url = `http://${browserHost}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async state(allocation, path) {
      const client = new Client({ name: clientName, version: '1' });
      const transport = new StreamableHTTPClientTransport(new URL(allocation.container.url), { requestInit: { headers: credentialHeaders(allocation.credential) } });
      await client.connect(transport);
      try {
        await client.callTool({ name: 'browser_navigate', arguments: { url: `${url}${path}` } });
        const result = await client.callTool({ name: 'browser_evaluate', arguments: { function: "() => `cookie=${document.cookie};storage=${localStorage.getItem('warm')}`" } });
        return JSON.stringify(result.content);
      } finally {
        await client.close().catch(() => undefined);
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
