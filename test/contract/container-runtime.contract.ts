import { request as httpRequest } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import type { ContainerRuntime, RunContext, RuntimeEvent, StartContext } from '../../src/runtime/container-runtime.js';
import { credentialHeaders, MemberCredentials } from '../../src/runtime/member-credentials.js';
import { fenceMember } from '../../src/runtime/member-fence.js';
import { freePorts } from '../support/ports.js';

export interface RuntimeUnderTest {
  runtime: ContainerRuntime;
  /** The run's identity; the suite adds the guard keys (StartContext) from credentials of its own. */
  ctx: RunContext;
  /** Prefix for container names, unique to this run (Docker names are global on the host). */
  namePrefix: string;
  /** Ends the member's MCP server from outside the runtime, the way a crash would (SIGKILL). */
  killServer(id: string): Promise<void>;
  /** Resolves once a death from now on is reported (Docker: the events subscription is live). */
  eventsReady?(): Promise<void>;
  /** What the runtime left on the machine after close(), named; must be empty. */
  leftovers(): Promise<string[]>;
  /** Removes whatever a failed test left behind. */
  cleanup(): Promise<void>;
}

/**
 * The behaviour every ContainerRuntime shows, run against Docker and the process runtime with real MCP servers
 * and Chromium. One member is started once and taken through its whole life in order (as the pool does); a
 * runtime's own promises (hardening, sandbox folders, reaping) stay in its integration file. No assertion is on
 * a duration except where the contract promises one (a death reported within 5 s; see there why it holds).
 * The guard in front of the server is part of the contract (issue 10): every request needs a credential the
 * pool signed with the member's key; a lease credential passes only once the pool has fenced the member, and
 * only while its token is at or above the floor.
 */
export function describeContainerRuntimeContract(name: string, make: () => Promise<RuntimeUnderTest>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`ContainerRuntime contract: ${name}`, () => {
    let subject: RuntimeUnderTest;
    let runtime: ContainerRuntime;
    let spec: ContainerSpec;
    let startCtx: StartContext;
    const events: RuntimeEvent[] = [];
    const id = 'container-1';
    const credentials = new MemberCredentials();
    const pool = () => credentials.forPool(id);
    const fence = (floor: number) => fenceMember({ containerId: id, port: spec.port, credential: pool() }, floor);

    beforeAll(async () => {
      subject = await make();
      startCtx = { ...subject.ctx, guardKey: (member) => credentials.keyOf(member) };
      runtime = subject.runtime;
      runtime.onEvent((event) => events.push(event));
      const [port] = await freePorts(1);
      spec = { id, name: `${subject.namePrefix}-1`, port: port!, memoryMB: 768, cpuPercent: 100 };
    });

    afterAll(async () => {
      await runtime?.close().catch(() => undefined);
      await subject?.cleanup();
    });

    it('start returns the member, reports it started, and serves MCP on localhost:<port>', async () => {
      const info = await runtime.start(spec, startCtx);
      expect(info).toMatchObject({ id, name: spec.name, port: spec.port });
      expect(info.runtimeId).not.toBe('');
      const client = await connectMcp(spec.port, 30_000, pool());
      await client.close();
      expect(await runtime.inspect(id)).toMatchObject({ running: true });
      await waitUntil(() => events.some((e) => e.type === 'started' && e.containerId === id), 30_000);
      expect(events.filter((e) => e.type === 'died')).toEqual([]);
    });

    it('the guard answers 401 naming the member without a credential, with another member\'s or another key\'s; a pool credential passes', async () => {
      const refusals = [
        { authorization: undefined, why: /no credential/ },
        { authorization: `Bearer ${credentials.forPool('container-2')}`, why: /it is for pool member container-2, this is container-1/ },
        { authorization: `Bearer ${new MemberCredentials().forPool(id)}`, why: /signature does not match pool member container-1's key/ },
        { authorization: `Bearer ${new MemberCredentials().forLease(id, 'lease-forged', 99)}`, why: /signature does not match/ },
      ];
      for (const { authorization, why } of refusals) {
        const answer = await mcpRequest(spec.port, { authorization, body: INITIALIZE });
        expect({ status: answer.status, text: answer.text }).toMatchObject({ status: 401, text: expect.stringMatching(why) });
        // Names the member it guards, in the text and in the challenge.
        expect(answer.text).toMatch(new RegExp(`\\b${id}\\b`));
        expect(answer.wwwAuthenticate).toBe(`Bearer realm="cinnamon-qa pool member ${id}"`);
      }
      const admitted = await mcpRequest(spec.port, { authorization: `Bearer ${pool()}`, body: INITIALIZE });
      expect(admitted.status, admitted.text).toBe(200);
      expect(admitted.sessionId).toBeDefined();
      const ended = await mcpRequest(spec.port, { authorization: `Bearer ${pool()}`, method: 'DELETE', sessionId: admitted.sessionId });
      expect(ended.status, ended.text).toBe(200);
    });

    it('a lease credential is refused until the pool fences the member, then admitted', async () => {
      const lease = `Bearer ${credentials.forLease(id, 'lease-1', 1)}`;
      const closed = await mcpRequest(spec.port, { authorization: lease, body: INITIALIZE });
      expect(closed.status).toBe(401);
      expect(closed.text).toMatch(new RegExp(`lease lease-1 \\(token 1\\) refused: pool member ${id} admits no lease yet`));
      expect(await fence(1)).toMatchObject({ floor: 1 });
      const open = await mcpRequest(spec.port, { authorization: lease, body: INITIALIZE });
      expect(open.status, open.text).toBe(200);
      const ended = await mcpRequest(spec.port, { authorization: lease, method: 'DELETE', sessionId: open.sessionId });
      expect(ended.status, ended.text).toBe(200);
    });

    it('raising the floor past a lease ends its MCP session on the server, and its client\'s next call gets 401 naming that it has ended', async () => {
      const transport = new StreamableHTTPClientTransport(new URL(`http://localhost:${spec.port}/mcp`), {
        requestInit: { headers: credentialHeaders(credentials.forLease(id, 'lease-2', 2)) },
      });
      const client = new Client({ name: 'runtime-contract-holder', version: '1.0.0' });
      // The SSE stream the fence cuts is reported here; the assertion is on the next call.
      client.onerror = () => undefined;
      try {
        await client.connect(transport, { timeout: 30_000 });
        expect((await client.listTools()).tools.some((t) => t.name === 'browser_navigate')).toBe(true);
        const sessionId = transport.sessionId;
        expect(sessionId).toBeDefined();

        const fenced = await fence(3);
        expect(fenced.floor).toBe(3);
        expect(fenced.cut).toMatchObject({ sessions: 1, sessionsNotEnded: 0 });

        // The server itself no longer knows the session: the guard ended it there, not only at its own door.
        const ping = { jsonrpc: '2.0', id: 7, method: 'ping' };
        const unknown = await mcpRequest(spec.port, { authorization: `Bearer ${pool()}`, sessionId, body: ping });
        expect(unknown.status, unknown.text).toBe(404);

        const error = await client.listTools().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StreamableHTTPError);
        expect((error as StreamableHTTPError).code).toBe(401);
        expect((error as Error).message).toMatch(new RegExp(`lease lease-2 \\(token 2\\) on pool member ${id} has ended`));
      } finally {
        await client.close();
      }
    });

    it('after a restart the guard admits no lease until fenced again; the pool credential passes throughout', async () => {
      const lease = `Bearer ${credentials.forLease(id, 'lease-4', 4)}`;
      expect(await fence(4)).toMatchObject({ floor: 4 });
      const before = await mcpRequest(spec.port, { authorization: lease, body: INITIALIZE });
      expect(before.status, before.text).toBe(200);
      await mcpRequest(spec.port, { authorization: lease, method: 'DELETE', sessionId: before.sessionId });

      await runtime.restart(id);
      await connectMcp(spec.port, 30_000, pool()).then((client) => client.close());
      const closed = await mcpRequest(spec.port, { authorization: lease, body: INITIALIZE });
      expect(closed.status).toBe(401);
      expect(closed.text).toMatch(/admits no lease yet/);
      await fence(4);
      const reopened = await mcpRequest(spec.port, { authorization: lease, body: INITIALIZE });
      expect(reopened.status, reopened.text).toBe(200);
      await mcpRequest(spec.port, { authorization: lease, method: 'DELETE', sessionId: reopened.sessionId });
    });

    it('exec gives the environment contract, passes exit code and both streams through', async () => {
      const script = [
        'printf "%s\\n" "$MCP_HOME" "$MCP_TMPDIR" "$MCP_WORKDIR" "$MCP_PORT" "$MCP_SANDBOX" "$MCP_SERVER_PID" "$(pwd)" "$HOME"',
        'ps -o args= -p "$MCP_SERVER_PID"',
        'command -v ps find grep >/dev/null && echo tools-ok',
        'echo oops >&2; exit 3',
      ].join('\n');
      const result = await runtime.exec(id, ['sh', '-c', script]);
      const [home, tmp, work, port, sandbox, pid, cwd, HOME, serverArgs, tools] = result.stdout.trim().split('\n').map((l) => l.trim());
      expect(result.exitCode).toBe(3);
      expect(result.stderr).toBe('oops\n');
      expect([home, tmp, work, sandbox].every((v) => v !== undefined && v.length > 0)).toBe(true);
      expect({ cwd, HOME, port, tools }).toEqual({ cwd: work, HOME: home, port: String(spec.port), tools: 'tools-ok' });
      expect(Number(pid)).toBeGreaterThan(1);
      expect(serverArgs).toContain('@playwright/mcp/cli.js');
      await expect(runtime.exec(id, [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('exec ends a command at its budget and says so (RUNTIME_ERROR, data.timedOut)', async () => {
      const started = performance.now();
      const error = await runtime.exec(id, ['sh', '-c', 'sleep 30'], { timeoutMs: 500 }).catch((e: unknown) => e);
      expect(isPoolError(error, 'RUNTIME_ERROR')).toBe(true);
      expect((error as { data: Record<string, unknown> }).data.timedOut).toBe(true);
      expect((error as Error).message).toMatch(new RegExp(`runtime: exec.* of container ${id} failed: .*500 ms.*Fix: `));
      // Ended by its budget, not by `sleep 30` finishing: under half the sleep shows that, loaded machine or not.
      expect(performance.now() - started).toBeLessThan(15_000);
    });

    it('stats reports the memory the server uses and a CPU figure', async () => {
      const stats = await runtime.stats(id);
      expect(stats.memoryMB).toBeGreaterThan(10);
      expect(stats.cpuPercent).toBeGreaterThanOrEqual(0);
    });

    it('restart and recreate bring the member back, report it started, and report no death', async () => {
      const before = events.length;
      await runtime.restart(id);
      expect((await runtime.inspect(id)).running).toBe(true);
      const info = await runtime.recreate(id);
      expect(info).toMatchObject({ id, port: spec.port });
      await connectMcp(spec.port, 30_000, pool()).then((client) => client.close());
      // Docker's events may lag behind a loaded daemon: wait for both 'started' events rather than a moment.
      const started = () => events.slice(before).filter((e) => e.type === 'started' && e.containerId === id).length;
      await waitUntil(() => started() >= 2, 60_000);
      expect(events.slice(before).filter((e) => e.type === 'died')).toEqual([]);
    });

    it('a server killed from outside is reported died within 5 s, and inspect says how it ended', async () => {
      await subject.eventsReady?.();
      const died = new Promise<{ event: RuntimeEvent; ms: number }>((resolve) => {
        const off = runtime.onEvent((event) => {
          if (event.type === 'died' && event.containerId === id) {
            off();
            resolve({ event, ms: performance.now() - killedAt });
          }
        });
      });
      const killedAt = performance.now();
      await subject.killServer(id);
      const outcome = await Promise.race([died, sleep(30_000).then(() => undefined)]);
      expect(outcome?.event).toMatchObject({ type: 'died', containerId: id });
      // Pushed by the runtime (Docker's event stream, the child's exit event): milliseconds when quiet, a few
      // scheduling delays with both cores busy; 5 s allows that and is far under the 30 s health poll.
      expect(outcome!.ms).toBeLessThan(5_000);
      expect((outcome!.event as { reason: string }).reason).toMatch(/exited with code 137 \(killed by SIGKILL\)/);
      expect(await runtime.inspect(id)).toMatchObject({ running: false, exitCode: 137 });
    });

    it('a dead member comes back with restart', async () => {
      await runtime.restart(id);
      expect((await runtime.inspect(id)).running).toBe(true);
      await connectMcp(spec.port, 30_000, pool()).then((client) => client.close());
    });

    it('stop is safe twice, concurrently and for an unknown id, and reports no death', async () => {
      const before = events.length;
      await Promise.all([runtime.stop(id), runtime.stop(id)]);
      await runtime.stop(id);
      await runtime.stop('no-such-container');
      await expect(runtime.exec(id, ['true'])).rejects.toMatchObject({ code: 'RUNTIME_ERROR' });
      expect(events.slice(before).filter((e) => e.type === 'died')).toEqual([]);
    });

    it('a start on a port another program holds fails naming the container and the port, and leaves nothing', async () => {
      const [port] = await freePorts(1);
      const blocker = createNetServer();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        const taken: ContainerSpec = { id: 'container-8', name: `${subject.namePrefix}-8`, port: port!, memoryMB: 256, cpuPercent: 50 };
        const error = await runtime.start(taken, startCtx).catch((e: unknown) => e);
        expect(isPoolError(error, 'RUNTIME_ERROR')).toBe(true);
        expect((error as Error).message).toMatch(/runtime: start.* of container container-8 failed: .*Fix: /s);
        expect((error as Error).message).toContain(`port ${port}`);
        await expect(runtime.inspect(taken.id)).rejects.toMatchObject({ code: 'RUNTIME_ERROR' });
      } finally {
        blocker.close();
      }
    });

    it('close leaves nothing behind, is safe twice, and refuses a start afterwards', async () => {
      await runtime.close();
      await runtime.close();
      expect(await subject.leftovers()).toEqual([]);
      await expect(runtime.start(spec, startCtx)).rejects.toMatchObject({ code: 'RUNTIME_ERROR' });
    });
  });
}

/**
 * An MCP client connected through the member's port, sending `credential` (the pool's, for a member behind the
 * guard) with every request. Retried: right after a start, docker-proxy accepts before the server inside
 * listens, so readiness is a handshake, each attempt with its own short timeout.
 */
export async function connectMcp(port: number, budgetMs: number, credential: string): Promise<Client> {
  const deadline = performance.now() + budgetMs;
  for (;;) {
    const client = new Client({ name: 'runtime-contract', version: '1.0.0' });
    try {
      const transport = new StreamableHTTPClientTransport(new URL(`http://localhost:${port}/mcp`), { requestInit: { headers: credentialHeaders(credential) } });
      await client.connect(transport, { timeout: 3_000 });
      await client.ping({ timeout: 3_000 });
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      if (performance.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** An MCP initialize request body, as a client's first message. */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'runtime-contract-raw', version: '1.0.0' } },
};

export interface McpAnswer {
  status: number;
  text: string;
  /** The mcp-session-id the answer carries (an initialize that opened a session). */
  sessionId?: string;
  /** The WWW-Authenticate header of a 401. */
  wwwAuthenticate?: string;
}

/**
 * One raw request to a member's /mcp, on a connection of its own that closes afterwards (no SDK, no pooled
 * socket left open for cleanup's validation to wait on). `authorization` is the whole header value.
 */
export function mcpRequest(port: number, options: { authorization?: string; sessionId?: string; method?: 'POST' | 'DELETE'; body?: unknown }): Promise<McpAnswer> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { host: `localhost:${port}`, accept: 'application/json, text/event-stream' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  if (options.sessionId !== undefined) headers['mcp-session-id'] = options.sessionId;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/mcp', method: options.method ?? 'POST', headers, agent: false, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      const session = res.headers['mcp-session-id'];
      const challenge = res.headers['www-authenticate'];
      const done = () =>
        resolve({
          status: res.statusCode ?? 0,
          text,
          ...(typeof session === 'string' ? { sessionId: session } : {}),
          ...(challenge === undefined ? {} : { wwwAuthenticate: challenge }),
        });
      res.on('data', (chunk: string) => {
        text += chunk;
        // An initialize answered as an SSE stream: the one event is the answer; the stream may stay open.
        if (res.headers['content-type']?.startsWith('text/event-stream') && /\n\n/.test(text)) {
          done();
          req.destroy();
        }
      });
      res.on('end', done);
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from 127.0.0.1:${port} within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function waitUntil(condition: () => boolean, budgetMs: number): Promise<void> {
  const deadline = performance.now() + budgetMs;
  while (!condition() && performance.now() < deadline) await sleep(50);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
