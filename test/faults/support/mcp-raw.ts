import { request, type IncomingHttpHeaders } from 'node:http';
import { rawRequest, type RawResponse } from './raw-http.js';

/**
 * MCP over Streamable HTTP by hand, one request at a time with exactly the headers given: what any process on
 * the machine can send to a pool member's port, credential or not. `authorization` is the whole header value
 * (`Bearer <credential>`, or anything else); undefined sends none.
 */
export const MCP_PROTOCOL_VERSION = '2025-03-26';

export const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'faults', version: '1' } },
});

export function bearer(credential: string): string {
  return `Bearer ${credential}`;
}

/** The headers of an MCP request to the member on `port`, as the pool's own clients send them. */
export function mcpHeaders(port: number, authorization?: string, sessionId?: string): Record<string, string> {
  return {
    host: `localhost:${port}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(authorization === undefined ? {} : { authorization }),
    ...(sessionId === undefined ? {} : { 'mcp-session-id': sessionId, 'mcp-protocol-version': MCP_PROTOCOL_VERSION }),
  };
}

/** POST /mcp initialize: 200 with an mcp-session-id when the member lets the caller in. */
export function initialize(port: number, authorization?: string): Promise<RawResponse> {
  return rawRequest(port, 'POST', '/mcp', mcpHeaders(port, authorization), INITIALIZE);
}

export function sessionIdOf(res: RawResponse): string | undefined {
  const id = res.headers['mcp-session-id'];
  return typeof id === 'string' ? id : undefined;
}

/** Opens a session and says it is initialized, as a client does before its first call; throws unless both pass. */
export async function openRawSession(port: number, authorization: string): Promise<string> {
  const init = await initialize(port, authorization);
  const sessionId = sessionIdOf(init);
  if (init.status !== 200 || sessionId === undefined) throw new Error(`initialize on ${port} answered ${init.status}: ${init.body.slice(0, 300)}`);
  const ready = await rawRequest(port, 'POST', '/mcp', mcpHeaders(port, authorization, sessionId), JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  if (ready.status >= 300) throw new Error(`notifications/initialized on ${port} answered ${ready.status}: ${ready.body.slice(0, 300)}`);
  return sessionId;
}

/** tools/list in a session: 200 while the session exists and the caller is admitted. */
export function listTools(port: number, authorization: string | undefined, sessionId: string): Promise<RawResponse> {
  return rawRequest(port, 'POST', '/mcp', mcpHeaders(port, authorization, sessionId), JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
}

/** DELETE /mcp: ends a session on the server (what a client's terminateSession sends). */
export function endSession(port: number, authorization: string | undefined, sessionId: string): Promise<RawResponse> {
  return rawRequest(port, 'DELETE', '/mcp', mcpHeaders(port, authorization, sessionId));
}

export interface EventStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Resolves when the stream's connection closes, for whatever reason (the member cut it, or close()). */
  closed: Promise<void>;
  close(): void;
}

/**
 * GET /mcp: the session's event stream (text/event-stream), held open until the server or the guard ends it.
 * Resolves once the response headers arrived; the body is drained and ignored.
 */
export function openEventStream(port: number, authorization: string, sessionId: string): Promise<EventStream> {
  const headers = { ...mcpHeaders(port, authorization, sessionId), accept: 'text/event-stream' };
  delete (headers as Record<string, string>)['content-type'];
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: '/mcp', headers, agent: false, setHost: false });
    let ended = () => undefined as void;
    const closed = new Promise<void>((done) => (ended = done));
    req.once('close', () => ended());
    req.setTimeout(15_000, () => req.destroy(new Error(`GET /mcp on ${port}: no response headers within 15 s`)));
    req.once('response', (res) => {
      req.setTimeout(0);
      res.resume();
      res.on('error', () => undefined);
      res.once('close', () => ended());
      resolve({ status: res.statusCode ?? 0, headers: res.headers, closed, close: () => req.destroy() });
    });
    req.on('error', (error) => reject(error));
    req.end();
  });
}

/** tools/call in a session: what a client sends to drive the browser. */
export function callTool(port: number, authorization: string | undefined, sessionId: string, name: string, args: Record<string, unknown>): Promise<RawResponse> {
  return rawRequest(port, 'POST', '/mcp', mcpHeaders(port, authorization, sessionId), JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: args } }));
}
