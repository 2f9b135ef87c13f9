import { createServer as createNetServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import type { ContainerRuntime, RunContext, RuntimeEvent } from '../../src/runtime/container-runtime.js';
import { freePorts } from '../support/ports.js';

export interface RuntimeUnderTest {
  runtime: ContainerRuntime;
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
 */
export function describeContainerRuntimeContract(name: string, make: () => Promise<RuntimeUnderTest>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`ContainerRuntime contract: ${name}`, () => {
    let subject: RuntimeUnderTest;
    let runtime: ContainerRuntime;
    let spec: ContainerSpec;
    const events: RuntimeEvent[] = [];
    const id = 'container-1';

    beforeAll(async () => {
      subject = await make();
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
      const info = await runtime.start(spec, subject.ctx);
      expect(info).toMatchObject({ id, name: spec.name, port: spec.port });
      expect(info.runtimeId).not.toBe('');
      const client = await connectMcp(spec.port, 30_000);
      await client.close();
      expect(await runtime.inspect(id)).toMatchObject({ running: true });
      await waitUntil(() => events.some((e) => e.type === 'started' && e.containerId === id), 30_000);
      expect(events.filter((e) => e.type === 'died')).toEqual([]);
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
      await connectMcp(spec.port, 30_000).then((client) => client.close());
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
      await connectMcp(spec.port, 30_000).then((client) => client.close());
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
        const error = await runtime.start(taken, subject.ctx).catch((e: unknown) => e);
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
      await expect(runtime.start(spec, subject.ctx)).rejects.toMatchObject({ code: 'RUNTIME_ERROR' });
    });
  });
}

/**
 * An MCP client connected through the member's port. Retried: right after a start, docker-proxy accepts
 * before the server inside listens, so readiness is a handshake, each attempt with its own short timeout.
 */
export async function connectMcp(port: number, budgetMs: number): Promise<Client> {
  const deadline = performance.now() + budgetMs;
  for (;;) {
    const client = new Client({ name: 'runtime-contract', version: '1.0.0' });
    try {
      await client.connect(new StreamableHTTPClientTransport(new URL(`http://localhost:${port}/mcp`)), { timeout: 3_000 });
      await client.ping({ timeout: 3_000 });
      return client;
    } catch (error) {
      await client.close().catch(() => undefined);
      if (performance.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

async function waitUntil(condition: () => boolean, budgetMs: number): Promise<void> {
  const deadline = performance.now() + budgetMs;
  while (!condition() && performance.now() < deadline) await sleep(50);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
