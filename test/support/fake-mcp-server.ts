import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export type NavigateReply = { isError?: boolean; text: string };

/**
 * A small stateful MCP server over Streamable HTTP with one tool, `browser_navigate`, whose answers the test
 * scripts. Stands in for @playwright/mcp in unit tests of the fixture's MCP clients.
 */
export interface FakeMcpServer {
  url: string;
  /** Every browser_navigate call, with the session it came in and the Authorization header it carried. */
  calls: Array<{ session: string; url: string; authorization: string | undefined }>;
  /** Sessions ended by their client (DELETE), in order. */
  closedSessions: string[];
  /** Sessions currently open (initialized and not DELETEd). */
  readonly openSessions: number;
  /** Answers browser_navigate; defaults to a success. */
  reply: (call: number) => NavigateReply;
  /** Forgets every session, as a restarted server would. */
  forgetSessions(): void;
  close(): Promise<void>;
}

export async function startFakeMcpServer(): Promise<FakeMcpServer> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const calls: FakeMcpServer['calls'] = [];
  const fake: FakeMcpServer = {
    url: '',
    calls,
    closedSessions: [],
    get openSessions() {
      return transports.size;
    },
    reply: () => ({ text: 'navigated' }),
    forgetSessions: () => transports.clear(),
    close: async () => {
      transports.clear();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };

  const newSession = async (): Promise<StreamableHTTPServerTransport> => {
    const server = new McpServer({ name: 'fake-playwright-mcp', version: '0' });
    server.registerTool('browser_navigate', { inputSchema: { url: z.string() } }, async ({ url }, extra) => {
      const authorization = extra.requestInfo?.headers.authorization;
      calls.push({ session: extra.sessionId ?? '?', url, authorization: typeof authorization === 'string' ? authorization : undefined });
      const r = fake.reply(calls.length);
      return { content: [{ type: 'text' as const, text: r.text }], ...(r.isError ? { isError: true } : {}) };
    });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void transports.set(id, transport),
      onsessionclosed: (id) => {
        transports.delete(id);
        fake.closedSessions.push(id);
      },
    });
    await server.connect(transport);
    return transport;
  };

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const id = req.headers['mcp-session-id'];
      const known = typeof id === 'string' ? transports.get(id) : undefined;
      if (typeof id === 'string' && !known) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      await (known ?? (await newSession())).handleRequest(req, res);
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  return fake;
}
