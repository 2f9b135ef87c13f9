import { spawn } from 'node:child_process';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { mcpGuardPath, mcpRequestRefusal, startMcpGuard, type McpGuard } from './mcp-guard.js';

let upstream: Server | undefined;
let guard: McpGuard | undefined;

afterEach(async () => {
  await guard?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => (upstream ? upstream.close(r) : r(undefined)));
  guard = upstream = undefined;
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function guardPort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise((r) => probe.close(r));
  return port;
}

/** One request through the guard; resolves at the response head with a reader for the body's chunks. */
function send(port: number, method: string, headers: Record<string, string>, body?: string, agent?: Agent) {
  return new Promise<{ status: number; headers: Record<string, unknown>; chunks: AsyncIterable<Buffer>; close: () => void }>((resolve, reject) => {
    // Node's client frames a DELETE body only with an explicit length (fetch always sends one).
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const req = request({ host: '127.0.0.1', port, method, path: '/mcp?x=1', headers: { ...headers, ...length }, ...(agent ? { agent } : {}) }, (res) =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks: res, close: () => req.destroy() }),
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function text(chunks: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const chunk of chunks) out += chunk.toString();
  return out;
}

describe('mcpRequestRefusal (Host / Origin rule in front of MCP servers)', () => {
  it('lets the pool\'s own Host through, with no Origin or a local one', () => {
    for (const host of ['localhost:3001', '127.0.0.1:3001', 'LOCALHOST:3001']) {
      expect(mcpRequestRefusal(host, undefined, 3001)).toBeUndefined();
      expect(mcpRequestRefusal(host, 'http://localhost:3001', 3001)).toBeUndefined();
      expect(mcpRequestRefusal(host, 'http://127.0.0.1:3001', 3001)).toBeUndefined();
    }
  });

  it('refuses a foreign, rebound, portless, wrong-port or missing Host, naming the Host rule', () => {
    for (const host of ['attacker.example:3001', 'rebind.attacker.example', 'localhost', '127.0.0.1', 'localhost:3002', '[::1]:3001', '0.0.0.0:3001', '', undefined]) {
      expect(mcpRequestRefusal(host, undefined, 3001)).toMatch(/^Host .* refused: .*localhost:3001 or 127\.0\.0\.1:3001/);
    }
  });

  it('refuses any other Origin even with the right Host, naming the Origin rule', () => {
    for (const origin of ['http://attacker.example', 'http://localhost:3002', 'https://localhost:3001', 'http://localhost', 'null', '', 'http://localhost:3001, http://attacker.example']) {
      expect(mcpRequestRefusal('localhost:3001', origin, 3001)).toMatch(/^Origin .* refused: .*http:\/\/localhost:3001 or http:\/\/127\.0\.0\.1:3001 or none/);
    }
  });
});

describe('MCP Origin/Host guard (docker/image/mcp-guard.cjs, the proxy of both runtimes)', () => {
  it('refuses a foreign Host or Origin with 403 text naming the rule, without reaching the server', async () => {
    let reached = 0;
    upstream = createServer((_req, res) => (reached++, res.end('ok')));
    const port = await guardPort();
    guard = await startMcpGuard({ port, upstreamPort: await listen(upstream) });
    const host = await send(port, 'POST', { host: `attacker.example:${port}` }, '{}');
    expect(host.status).toBe(403);
    expect(host.headers['content-type']).toMatch(/^text\/plain/);
    expect(await text(host.chunks)).toMatch(/^Host "attacker.example:\d+" refused/);
    const origin = await send(port, 'POST', { host: `localhost:${port}`, origin: 'http://attacker.example' }, '{}');
    expect(origin.status).toBe(403);
    expect(await text(origin.chunks)).toMatch(/^Origin "http:\/\/attacker.example" refused/);
    expect(reached).toBe(0);
  });

  it('forwards method, path, headers and body unchanged and streams the answer before it ends (SSE)', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    upstream = createServer(async (req, res) => {
      const body = await text(req);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-seen': `${req.method} ${req.url} ${req.headers.host} ${req.headers.origin} ${body}` });
      res.write('data: first\n\n');
      await released;
      res.end('data: last\n\n');
    });
    const port = await guardPort();
    guard = await startMcpGuard({ port, upstreamPort: await listen(upstream) });
    const res = await send(port, 'DELETE', { host: `127.0.0.1:${port}`, origin: `http://localhost:${port}` }, 'payload');
    expect(res.status).toBe(200);
    expect(res.headers['x-seen']).toBe(`DELETE /mcp?x=1 127.0.0.1:${port} http://localhost:${port} payload`);
    const iterator = res.chunks[Symbol.asyncIterator]();
    // The first event arrives while the server still holds the stream open: nothing is buffered.
    expect(String((await iterator.next()).value)).toBe('data: first\n\n');
    release();
    expect(String((await iterator.next()).value)).toBe('data: last\n\n');
  });

  it('ends the server\'s stream when the client leaves, and answers 502 when no server listens', async () => {
    let serverSawClose!: () => void;
    const closed = new Promise<void>((r) => (serverSawClose = r));
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      res.on('close', serverSawClose);
    });
    const port = await guardPort();
    const upstreamPort = await listen(upstream);
    guard = await startMcpGuard({ port, upstreamPort });
    const res = await send(port, 'GET', { host: `localhost:${port}` });
    res.close();
    await closed;
    await guard.close();
    guard = await startMcpGuard({ port, upstreamPort: await guardPort() });
    const down = await send(port, 'GET', { host: `localhost:${port}` });
    expect(down.status).toBe(502);
  });

  it('runs as the image runs it (node mcp-guard.cjs, ports from the environment) and closes idle keep-alive sockets', async () => {
    upstream = createServer((_req, res) => res.end('ok'));
    const port = await guardPort();
    const upstreamPort = await listen(upstream);
    const child = spawn(process.execPath, [mcpGuardPath()], { env: { ...process.env, MCP_PORT: String(port), MCP_SERVER_PORT: String(upstreamPort) }, stdio: 'ignore' });
    try {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let ok: Awaited<ReturnType<typeof send>> | undefined;
      // The child listens a moment after it starts: retry until it answers (a guard against hanging only).
      for (let i = 0; i < 200 && !ok; i++) ok = await send(port, 'GET', { host: `localhost:${port}` }, undefined, agent).catch(() => sleep(50).then(() => undefined));
      expect(ok?.status).toBe(200);
      expect(await text(ok!.chunks)).toBe('ok');
      const refused = await send(port, 'GET', { host: `localhost:${port}`, origin: 'http://attacker.example' });
      expect(refused.status).toBe(403);
      // The kept-alive socket of the first request is closed by the guard once idle (Node's default keep-alive,
      // which cleanup validation relies on), not held open forever.
      const socket = Object.values(agent.freeSockets).flat()[0];
      expect(socket).toBeDefined();
      await new Promise((resolve) => socket!.once('close', resolve));
      agent.destroy();
    } finally {
      child.kill();
    }
  });

  it('refuses to start as the image entry without two distinct ports', async () => {
    const child = spawn(process.execPath, [mcpGuardPath()], { env: { ...process.env, MCP_PORT: '3001', MCP_SERVER_PORT: '3001' }, stdio: 'ignore' });
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(2);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
