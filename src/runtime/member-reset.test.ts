import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import { fencePath, resetPath, startMcpGuard, type McpGuard } from './mcp-guard.js';
import { credentialHeaders, MemberCredentials } from './member-credentials.js';
import { endMemberSessions } from './member-reset.js';
import { freePort } from '../../test/support/ports.js';

const MEMBER = 'container-1';
let upstream: Server | undefined;
let guard: McpGuard | undefined;

afterEach(async () => {
  await guard?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
  guard = upstream = undefined;
});

async function body(stream: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}

/**
 * A stand-in for @playwright/mcp as the soft reset depends on it: `initialize` opens a session (answered as an event
 * stream, as the real server does), a session's first `tools/call` gives it a browser context in the one shared
 * browser, DELETE ends a session (404 when unknown) and its context, and the browser closes when the last context
 * goes (`browserCloses`). It records every request (method, session, JSON-RPC method) in order.
 */
async function fakePlaywrightMcp() {
  const seen: Array<{ method: string; session: string | undefined; rpc: string | undefined }> = [];
  const live = new Set<string>();
  const contexts = new Set<string>();
  const state = { browserCloses: 0, deleteStatus: 200, sessions: 0 };
  const server = createServer(async (req, res) => {
    const text = await body(req);
    const session = typeof req.headers['mcp-session-id'] === 'string' ? req.headers['mcp-session-id'] : undefined;
    const message = text ? (JSON.parse(text) as { id?: number; method?: string }) : undefined;
    seen.push({ method: req.method ?? '', session, rpc: message?.method });
    if (req.method === 'DELETE') {
      if (!session || !live.has(session)) return void res.writeHead(404).end('Session not found');
      if (state.deleteStatus !== 200) return void res.writeHead(state.deleteStatus).end('broken');
      live.delete(session);
      if (contexts.delete(session) && contexts.size === 0) state.browserCloses++;
      return void res.writeHead(200).end();
    }
    if (req.method === 'GET') return void res.writeHead(400).end('Invalid request');
    const answer = (id: string, result: unknown) =>
      res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': id }).end(`event: message\ndata: ${JSON.stringify({ result, jsonrpc: '2.0', id: message?.id })}\n\n`);
    if (message?.method === 'initialize') {
      const id = `session-${++state.sessions}`;
      live.add(id);
      return void answer(id, { protocolVersion: '2025-06-18', capabilities: {} });
    }
    if (!session || !live.has(session)) return void res.writeHead(404).end('Session not found');
    if (message?.id === undefined) return void res.writeHead(202).end();
    if (message.method === 'tools/call') contexts.add(session);
    answer(session, { content: [{ type: 'text', text: '### Result' }] });
  });
  upstream = server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, seen, live, contexts, state };
}

async function guarded() {
  const server = await fakePlaywrightMcp();
  const port = await freePort();
  const credentials = new MemberCredentials();
  guard = await startMcpGuard({ port, upstreamPort: server.port, key: credentials.keyOf(MEMBER), member: MEMBER });
  const host = { host: `localhost:${port}` };
  const pool = { ...host, ...credentialHeaders(credentials.forPool(MEMBER)) };
  const lease = (token: number) => ({ ...host, ...credentialHeaders(credentials.forLease(MEMBER, `lease-${token}`, token)) });
  const post = (path: string, headers: Record<string, string>, json: unknown, method = 'POST') =>
    new Promise<{ status: number; session: string | undefined; text: string }>((resolve, reject) => {
      const data = JSON.stringify(json);
      const req = request(
        { host: '127.0.0.1', port, method, path, agent: false, headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': String(Buffer.byteLength(data)) } },
        (res) => void body(res).then((text) => resolve({ status: res.statusCode ?? 0, session: res.headers['mcp-session-id'] as string | undefined, text }), reject),
      );
      req.on('error', reject);
      req.end(data);
    });
  /** A client's session that used the browser: initialize, then one tool call. */
  const browse = async (headers: Record<string, string>) => {
    const init = await post('/mcp', headers, { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    expect(init.status).toBe(200);
    const call = await post('/mcp', { ...headers, 'mcp-session-id': init.session! }, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'browser_navigate' } });
    expect(call.status).toBe(200);
    return init.session!;
  };
  const target = { containerId: MEMBER, port, credential: credentials.forPool(MEMBER) };
  return { ...server, port, credentials, host, pool, lease, post, browse, target };
}

describe('soft reset through the guard (POST /cinnamon-qa/reset, issue 13)', () => {
  it('is refused without a credential, with a lease\'s, with another run\'s, or not as a POST; nothing changes', async () => {
    const g = await guarded();
    await g.post(fencePath(), g.pool, { floor: 1 });
    const holder = await g.browse(g.lease(1));
    const before = g.seen.length;
    const refusals = [
      [await g.post(resetPath(), g.host, {}), 401, /^no credential/],
      [await g.post(resetPath(), g.lease(1), {}), 403, /^reset: only the pool may reset the member/],
      [await g.post(resetPath(), { ...g.host, ...credentialHeaders(new MemberCredentials().forPool(MEMBER)) }, {}), 401, /signature does not match/],
      [await g.post(resetPath(), g.pool, {}, 'PUT'), 403, /^reset: only the pool/],
    ] as const;
    for (const [answer, status, why] of refusals) {
      expect(answer.status).toBe(status);
      expect(answer.text).toMatch(why);
    }
    // Nothing reached the server, the holder's session and context are there, and the lease still works.
    expect(g.seen.length).toBe(before);
    expect([...g.live]).toEqual([holder]);
    expect([...g.contexts]).toEqual([holder]);
    expect((await g.post('/mcp', { ...g.lease(1), 'mcp-session-id': holder }, { jsonrpc: '2.0', id: 3, method: 'tools/list' })).status).toBe(200);
  });

  it('ends every session (a lease\'s and the pool\'s) after attaching its own keeper, so the browser never closes', async () => {
    const g = await guarded();
    await g.post(fencePath(), g.pool, { floor: 1 });
    const holder = await g.browse(g.lease(1));
    const other = await g.browse(g.lease(1));
    const poolSession = await g.browse(g.pool);
    const from = g.seen.length;

    const result = await endMemberSessions(g.target, 5_000);
    expect(result).toEqual({ member: MEMBER, ended: 3, gone: 0, failed: 0, keeperAttached: true });
    // The keeper opened its session and attached it (a tool call) before any DELETE; then the three ended.
    const during = g.seen.slice(from);
    expect(during.slice(0, 3).map((s) => s.rpc)).toEqual(['initialize', 'notifications/initialized', 'tools/call']);
    const keeper = during[2]!.session!;
    expect(during.slice(3).map((s) => [s.method, s.session]).sort()).toEqual([['DELETE', holder], ['DELETE', other], ['DELETE', poolSession]].sort());
    expect([...g.live]).toEqual([keeper]);
    expect([...g.contexts]).toEqual([keeper]);
    expect(g.state.browserCloses).toBe(0);
    // A client that still sends an ended session's id gets the server's own answer; the keeper's id is not for clients.
    expect((await g.post('/mcp', { ...g.lease(1), 'mcp-session-id': holder }, { jsonrpc: '2.0', id: 4, method: 'tools/list' })).status).toBe(404);
    const hijack = await g.post('/mcp', { ...g.lease(1), 'mcp-session-id': keeper }, { jsonrpc: '2.0', id: 5, method: 'tools/call' });
    expect(hijack.status).toBe(403);
    expect(hijack.text).toMatch(/guard's own/);
  });

  it('attaches the keeper once per lease: a later reset only ends sessions, counting those the server already ended as gone', async () => {
    const g = await guarded();
    await g.post(fencePath(), g.pool, { floor: 1 });
    await g.browse(g.lease(1));
    await endMemberSessions(g.target, 5_000);
    const first = await g.browse(g.lease(1));
    const second = await g.browse(g.lease(1));
    g.live.delete(second); // the server dropped it itself (its client stopped answering pings)
    g.contexts.delete(second);
    const from = g.seen.length;
    expect(await endMemberSessions(g.target, 5_000)).toEqual({ member: MEMBER, ended: 1, gone: 1, failed: 0, keeperAttached: true });
    expect(g.seen.slice(from).map((s) => s.method)).toEqual(['DELETE', 'DELETE']);
    expect(g.live.has(first)).toBe(false);
    expect(g.state.browserCloses).toBe(0);

    // A new lease: the cleanup before it ended the browser the keeper held, so the next reset attaches it again.
    await g.post(fencePath(), g.pool, { floor: 2 });
    await g.browse(g.lease(2));
    const next = g.seen.length;
    await endMemberSessions(g.target, 5_000);
    expect(g.seen.slice(next).map((s) => s.rpc ?? s.method)).toEqual(['tools/call', 'DELETE']);
  });

  it('with no session to end, only checks the server answers (no keeper, no browser launched)', async () => {
    const g = await guarded();
    expect(await endMemberSessions(g.target, 5_000)).toEqual({ member: MEMBER, ended: 0, gone: 0, failed: 0, keeperAttached: false });
    expect(g.seen.map((s) => s.method)).toEqual(['GET']);
    expect(g.contexts.size).toBe(0);
  });

  it('fails with RUNTIME_ERROR naming the member when a session cannot be ended or the server does not answer', async () => {
    const g = await guarded();
    await g.browse(g.pool);
    g.state.deleteStatus = 500;
    const failed = await endMemberSessions(g.target, 5_000).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(PoolError);
    expect(failed).toMatchObject({ code: 'RUNTIME_ERROR', data: { containerId: MEMBER, operation: 'reset', problem: '1 session(s) could not be ended' } });
    expect((failed as Error).message).toMatch(/^Soft reset of container container-1 \(port \d+\) through its guard failed: 1 session\(s\) could not be ended\. Fix: /);

    upstream!.closeAllConnections();
    await new Promise((r) => upstream!.close(r));
    upstream = undefined;
    const down = await endMemberSessions(g.target, 5_000).catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'RUNTIME_ERROR', data: { problem: expect.stringMatching(/^the MCP server did not answer/) } });
  });

  it('fails plainly when no guard listens, and a guard without the credential check has no reset', async () => {
    const port = await freePort();
    const refused = await endMemberSessions({ containerId: MEMBER, port, credential: 'cq1.x.y' }, 2_000).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'RUNTIME_ERROR', data: { problem: expect.stringContaining('ECONNREFUSED') } });
    const server = await fakePlaywrightMcp();
    guard = await startMcpGuard({ port, upstreamPort: server.port, key: null });
    const open = await endMemberSessions({ containerId: MEMBER, port, credential: 'cq1.x.y' }, 2_000).catch((e: unknown) => e);
    expect((open as Error).message).toMatch(/the guard answered HTTP 404: reset: this guard checks no credentials/);
    expect(server.seen).toEqual([]);
  });
});
