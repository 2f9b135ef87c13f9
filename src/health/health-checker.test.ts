import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { credentialDecision } from '../runtime/mcp-guard.js';
import { MemberCredentials } from '../runtime/member-credentials.js';
import type { ContainerRuntime, RuntimeState } from '../runtime/container-runtime.js';
import { HealthChecker } from './health-checker.js';
import { healthGateError } from './health-gate-error.js';

/** A stand-in Playwright MCP server: real Streamable HTTP sessions, a Host check like @playwright/mcp's. */
interface FakeMcp {
  port: number;
  deletes: number;
  requests: string[];
  /** The Authorization header of each request, in order (undefined: none). */
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

async function startFakeMcp(options: { tools?: string[]; hostCheck?: boolean; port?: number; requireAuthorization?: string } = {}): Promise<FakeMcp> {
  const tools = options.tools ?? ['browser_navigate', 'browser_snapshot'];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const state: FakeMcp = { port: 0, deletes: 0, requests: [], authorizations: [], close: async () => undefined };
  const server: HttpServer = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      state.requests.push(`${req.method} ${req.url}`);
      if (options.hostCheck !== false && req.headers.host !== `localhost:${state.port}`) {
        res.writeHead(403).end(`Access is only allowed at localhost:${state.port}`);
        return;
      }
      state.authorizations.push(req.headers.authorization);
      // As the pool's guard does: no request without the member's credential.
      if (options.requireAuthorization !== undefined && req.headers.authorization !== options.requireAuthorization) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('credential refused (fake guard)');
        return;
      }
      const sessionId = req.headers['mcp-session-id'];
      if (req.method === 'DELETE') state.deletes++;
      let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (!transport) {
        if (sessionId) {
          res.writeHead(404).end('unknown session');
          return;
        }
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void sessions.set(id, created),
          onsessionclosed: (id) => void sessions.delete(id),
        });
        const mcp = new McpServer({ name: 'fake-playwright', version: '0.0.0' });
        for (const name of tools) mcp.registerTool(name, { description: name }, async () => ({ content: [] }));
        await mcp.connect(created);
        transport = created;
      }
      await transport.handleRequest(req, res);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = async () => {
    for (const t of sessions.values()) await t.close().catch(() => undefined);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return state;
}

/** A port nothing listens on (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function fakeRuntime(inspect: (id: string) => Promise<RuntimeState>): ContainerRuntime & { inspected: string[] } {
  const inspected: string[] = [];
  const notUsed = () => Promise.reject(new Error('not used'));
  return {
    kind: 'fake',
    limitations: [],
    inspected,
    inspect: (id: string) => {
      inspected.push(id);
      return inspect(id);
    },
    reapLeftovers: notUsed,
    start: notUsed,
    stop: notUsed,
    restart: notUsed,
    recreate: notUsed,
    exec: notUsed,
    stats: notUsed,
    onEvent: () => () => undefined,
    close: async () => undefined,
  };
}

const running = async (): Promise<RuntimeState> => ({ running: true, health: 'healthy' });
/**
 * "Fails fast" against a stage budget nobody could mistake for it: a fast failure here is one refused
 * connection, one 403 or one inspect of a fake (milliseconds; a few scheduling delays with both cores busy),
 * a slow one waits out SLOW_STAGE_MS. FAST_MS, a quarter of it, holds on a loaded machine and still tells them apart.
 */
const SLOW_STAGE_MS = 20_000;
const FAST_MS = SLOW_STAGE_MS / 4;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
async function fakeMcp(options?: Parameters<typeof startFakeMcp>[0]): Promise<FakeMcp> {
  const server = await startFakeMcp(options);
  cleanups.push(() => server.close());
  return server;
}

describe('HealthChecker', () => {
  it('passes tcp, mcp and runtime in that order and terminates its MCP session', async () => {
    const mcp = await fakeMcp();
    const runtime = fakeRuntime(running);
    const report = await new HealthChecker({ runtime }).isContainerReady(mcp.port, 'container-1');
    expect(report.ready).toBe(true);
    expect(report.failedStage).toBeUndefined();
    expect(report.stages.map((s) => [s.stage, s.ok])).toEqual([
      ['tcp', true],
      ['mcp', true],
      ['runtime', true],
    ]);
    expect(report.stages[1]?.detail).toMatch(/initialize, ping, 2 tools/);
    expect(report.containerId).toBe('container-1');
    expect(runtime.inspected).toEqual(['container-1']);
    expect(mcp.deletes).toBe(1);
    expect(mcp.requests.some((r) => r.includes('/sse'))).toBe(false);
  });

  it('stops at tcp when nothing listens, within the stage budget, and names the error', async () => {
    const port = await freePort();
    const started = performance.now();
    const report = await new HealthChecker({ config: { stageTimeoutMs: 300 } }).isContainerReady(port);
    const elapsed = performance.now() - started;
    expect(report.ready).toBe(false);
    expect(report.failedStage).toBe('tcp');
    expect(report.stages).toHaveLength(1);
    expect(report.stages[0]?.error).toMatch(/nothing accepted a connection on 127\.0\.0\.1:\d+ .*ECONNREFUSED/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    // Ended by the 300 ms stage budget, not by the 30 s gate budget (startupTimeoutMs): any figure well under
    // the latter shows it, with room for a machine whose cores are both busy.
    expect(elapsed).toBeLessThan(FAST_MS);
  });

  it('fails tcp at once when the runtime says the container is gone', async () => {
    const port = await freePort();
    const runtime = fakeRuntime(async () => ({ running: false, health: 'none', exitCode: 1, reason: 'exited with code 1' }));
    const report = await new HealthChecker({ runtime, config: { stageTimeoutMs: SLOW_STAGE_MS } }).isContainerReady(port, 'container-2');
    expect(report.failedStage).toBe('tcp');
    expect(report.stages[0]?.error).toContain('container container-2 is not running: exited with code 1');
    expect(report.durationMs).toBeLessThan(FAST_MS);
  });

  it('a check called off through its signal fails the stage in progress as stopped, instead of polling out its budget', async () => {
    const port = await freePort();
    const stop = new AbortController();
    // Called after the first refused connect: the call-off lands while the tcp stage polls.
    const runtime = fakeRuntime(async () => {
      stop.abort();
      return { running: true, health: 'healthy' };
    });
    const report = await new HealthChecker({ runtime, config: { stageTimeoutMs: SLOW_STAGE_MS } }).isContainerReady(port, 'container-1', { starting: true, timeoutMs: SLOW_STAGE_MS, signal: stop.signal });
    expect(report.ready).toBe(false);
    expect(report.failedStage).toBe('tcp');
    expect(report.stages).toHaveLength(1);
    expect(report.stages[0]?.error).toMatch(/^stopped: the check was called off/);
  });

  it('waits for a port that opens while it polls', async () => {
    const port = await freePort();
    const late = setTimeout(() => void fakeMcp({ port }), 400);
    cleanups.push(async () => clearTimeout(late));
    const report = await new HealthChecker({ config: { stageTimeoutMs: 3_000 } }).isContainerReady(port);
    expect(report.ready).toBe(true);
    expect(report.stages[0]?.durationMs).toBeGreaterThanOrEqual(350);
    expect(report.stages[0]?.detail).toMatch(/open after \d+ attempts/);
  });

  it('fails mcp (and skips runtime) when the open port does not speak MCP', async () => {
    const raw = createTcpServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => raw.close(() => resolve())));
    const runtime = fakeRuntime(running);
    const { port } = raw.address() as AddressInfo;
    const report = await new HealthChecker({ runtime, config: { stageTimeoutMs: 400 } }).isContainerReady(port, 'container-1');
    expect(report.failedStage).toBe('mcp');
    expect(report.stages.map((s) => s.stage)).toEqual(['tcp', 'mcp']);
    expect(report.stages[1]?.error).toMatch(/no MCP answer from http:\/\/localhost:\d+\/mcp within the budget \(\d+ attempts, last: .+\)/);
    // Between attempts the runtime is asked whether the container still lives; it does, so retrying went on.
  });

  it('stops retrying mcp once the runtime says the container died', async () => {
    const raw = createTcpServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => raw.close(() => resolve())));
    let alive = true;
    const runtime = fakeRuntime(async () => (alive ? { running: true, health: 'none' } : { running: false, health: 'none', reason: 'exited with code 1' }));
    setTimeout(() => (alive = false), 150);
    const { port } = raw.address() as AddressInfo;
    const report = await new HealthChecker({ runtime, config: { stageTimeoutMs: SLOW_STAGE_MS } }).isContainerReady(port, 'container-1');
    expect(report.failedStage).toBe('mcp');
    expect(report.stages[1]?.error).toMatch(/container container-1 is not running: exited with code 1/);
    expect(report.durationMs).toBeLessThan(FAST_MS);
  });

  it('does not retry a Host-check refusal (403) and explains it', async () => {
    const mcp = await fakeMcp();
    const checker = new HealthChecker({ config: { stageTimeoutMs: SLOW_STAGE_MS }, mcpUrl: (port) => new URL(`http://127.0.0.1:${port}/mcp`) });
    const report = await checker.isContainerReady(mcp.port, 'container-1');
    expect(report.failedStage).toBe('mcp');
    expect(report.stages[1]?.error).toMatch(/HTTP 403.*Access is only allowed at localhost/);
    expect(report.stages[1]!.durationMs).toBeLessThan(FAST_MS);
    expect(healthGateError(report).message).toMatch(/connect as http:\/\/localhost:\d+\/mcp, or start the server with --allowed-hosts/);
  });

  it('fails mcp when the browser tools are missing', async () => {
    const mcp = await fakeMcp({ tools: ['something_else'] });
    const report = await new HealthChecker().isContainerReady(mcp.port);
    expect(report.failedStage).toBe('mcp');
    expect(report.stages[1]?.error).toMatch(/lacks browser_navigate, browser_snapshot/);
  });

  it('fails runtime when not running, unhealthy, or when inspect throws', async () => {
    const mcp = await fakeMcp();
    const cases: Array<[() => Promise<RuntimeState>, RegExp]> = [
      [async () => ({ running: false, health: 'none', reason: 'OOM killed' }), /not running: OOM killed/],
      [async () => ({ running: true, health: 'unhealthy' }), /unhealthy/],
      [() => Promise.reject(new Error('daemon gone')), /daemon gone/],
    ];
    for (const [inspect, error] of cases) {
      // The port is open at the first attempt, so the TCP stage never asks: the one inspect is the runtime stage's.
      const runtime = fakeRuntime(inspect);
      const report = await new HealthChecker({ runtime }).isContainerReady(mcp.port, 'container-1');
      expect(report.failedStage).toBe('runtime');
      expect(report.stages.map((s) => s.ok)).toEqual([true, true, false]);
      expect(report.stages[2]?.error).toMatch(error);
      expect(runtime.inspected).toEqual(['container-1']);
    }
  });

  it('skips the runtime stage as passed without a runtime or a container id, and says so', async () => {
    const mcp = await fakeMcp();
    const withoutRuntime = await new HealthChecker().isContainerReady(mcp.port, 'container-1');
    expect(withoutRuntime.stages[2]).toMatchObject({ stage: 'runtime', ok: true, detail: 'skipped: no runtime given' });
    const withoutId = await new HealthChecker({ runtime: fakeRuntime(running) }).isContainerReady(mcp.port);
    expect(withoutId.stages[2]).toMatchObject({ stage: 'runtime', ok: true, detail: 'skipped: no containerId given' });
  });

  it('measures budgets on the injected clock', async () => {
    const mcp = await fakeMcp();
    const clock = new FakeClock();
    const runtime = fakeRuntime(() => new Promise<RuntimeState>(() => undefined));
    const checking = new HealthChecker({ runtime, clock, config: { stageTimeoutMs: 2_000 } }).isContainerReady(mcp.port, 'container-1');
    // Real I/O for tcp and mcp; then the runtime stage waits on the fake clock until it is advanced.
    while (runtime.inspected.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await clock.advance(2_000);
    const report = await checking;
    expect(report.failedStage).toBe('runtime');
    expect(report.stages[2]).toMatchObject({ ok: false, durationMs: 2_000 });
    expect(report.stages[2]?.error).toMatch(/did not answer inspect within 2000 ms/);
    expect(report.stages[0]?.durationMs).toBe(0);
  });

  it('lets each stage of a starting server use what is left of the whole budget, not the stage budget', async () => {
    const mcp = await fakeMcp();
    const clock = new FakeClock();
    const runtime = fakeRuntime(() => new Promise<RuntimeState>(() => undefined));
    const checker = new HealthChecker({ runtime, clock, config: { stageTimeoutMs: 2_000 } });
    const checking = checker.isContainerReady(mcp.port, 'container-1', { timeoutMs: 10_000, starting: true });
    while (runtime.inspected.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // Past the stage budget the stage goes on waiting; it ends only with the whole budget.
    await clock.advance(2_000);
    await clock.advance(8_000);
    const report = await checking;
    expect(report.failedStage).toBe('runtime');
    expect(report.stages[2]).toMatchObject({ ok: false, durationMs: 10_000 });
  });

  it('keeps the whole check within the call\'s timeoutMs', async () => {
    const port = await freePort();
    const report = await new HealthChecker({ config: { stageTimeoutMs: SLOW_STAGE_MS } }).isContainerReady(port, undefined, { timeoutMs: 200 });
    expect(report.failedStage).toBe('tcp');
    expect(report.durationMs).toBeLessThan(FAST_MS);
  });

  it("with credentialFor, every request of the MCP stage carries the pool's credential for that member", async () => {
    const credentials = new MemberCredentials();
    const asked: string[] = [];
    const credentialFor = (id: string) => {
      asked.push(id);
      return credentials.forPool(id);
    };
    const mcp = await fakeMcp({ requireAuthorization: `Bearer ${credentials.forPool('container-3')}` });
    const report = await new HealthChecker({ credentialFor }).isContainerReady(mcp.port, 'container-3');
    expect(report.ready).toBe(true);
    expect(asked).toEqual(['container-3']);
    // initialize, the initialized notification, ping, tools/list, DELETE: each with the credential.
    expect(mcp.authorizations.length).toBeGreaterThanOrEqual(4);
    expect(new Set(mcp.authorizations)).toEqual(new Set([`Bearer ${credentials.forPool('container-3')}`]));
    expect(mcp.deletes).toBe(1);
    // What it sent is the pool's own credential for this member: the guard admits it even while closed to leases.
    expect(credentialDecision(credentials.keyOf('container-3'), 'container-3', null, mcp.authorizations[0])).toMatchObject({ admit: true, claims: { m: 'container-3', r: 'pool' } });
  });

  it('without a credential (no credentialFor, or no container id) a guarded member refuses the MCP stage with 401, not retried', async () => {
    const credentials = new MemberCredentials();
    const mcp = await fakeMcp({ requireAuthorization: `Bearer ${credentials.forPool('container-1')}` });
    const checkers = [
      () => new HealthChecker({ config: { stageTimeoutMs: SLOW_STAGE_MS } }).isContainerReady(mcp.port, 'container-1'),
      () => new HealthChecker({ config: { stageTimeoutMs: SLOW_STAGE_MS }, credentialFor: (id) => credentials.forPool(id) }).isContainerReady(mcp.port),
    ];
    for (const check of checkers) {
      mcp.authorizations.length = 0;
      const report = await check();
      expect(report.failedStage).toBe('mcp');
      expect(report.stages[1]?.error).toMatch(/HTTP 401/);
      // Refused once and not asked again: a 4xx is the server's answer, not a server still starting.
      expect(mcp.authorizations).toEqual([undefined]);
    }
  });
});
