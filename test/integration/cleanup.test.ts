import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMcpSession, type McpSession } from '../../fixtures/mcp-session.js';
import { CleanupService } from '../../src/cleanup/cleanup-service.js';
import { ContainerResetManager } from '../../src/cleanup/container-reset-manager.js';
import { SystemClock } from '../../src/clock/clock.js';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import { HealthChecker } from '../../src/health/health-checker.js';
import type { ContainerRuntime, RunContext, StartContext } from '../../src/runtime/container-runtime.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { MemberCredentials } from '../../src/runtime/member-credentials.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { freePorts } from '../support/ports.js';
import { dockerUnavailableReason } from '../support/docker.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));


const dockerUnavailable = await dockerUnavailableReason();
if (dockerUnavailable && !process.env.CI) {
  console.warn(`[cleanup.test] Docker part skipped: ${dockerUnavailable}. Start dockerd (or set DOCKER_HOST) to run it; in CI it fails instead.`);
}

/** A page that leaves state behind (a cookie and localStorage) and a page of the same origin that reads it. */
async function startStatefulSite(listenHost: string): Promise<{ server: Server; port: number; token: string }> {
  const token = `probe-${randomBytes(4).toString('hex')}`;
  const server = createHttpServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    if (req.url?.startsWith('/set')) {
      res.setHeader('set-cookie', `probe=${token}; Path=/`);
      res.end(`<!doctype html><title>set</title><script>localStorage.setItem('probe', '${token}')</script><h1>state set</h1>`);
    } else {
      res.end('<!doctype html><title>read</title><h1>nothing set here</h1>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, token };
}

/**
 * An MCP client as the pool's fixture runs one (fixtures/mcp-session.ts): its own sockets, all destroyed when
 * the session ends after a DELETE, so nothing of it lingers for cleanup's session check to wait out. It sends
 * the pool's credential: these tests reset the member without the pool, so nobody fences it for a lease.
 */
function connectClient(port: number, credential: string): Promise<McpSession> {
  return openMcpSession(`http://localhost:${port}/mcp`, credential, () => undefined, 'cleanup-integration');
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? '').join('\n');
}

/** Tool names and argument names come from the server's own schemas (they change between versions). */
async function browserTools(client: Client) {
  const { tools } = await client.listTools();
  const navigate = tools.find((t) => t.name === 'browser_navigate');
  const evaluate = tools.find((t) => t.name === 'browser_evaluate');
  if (!navigate || !evaluate) throw new Error(`server lacks browser_navigate/browser_evaluate: ${tools.map((t) => t.name).join(', ')}`);
  const urlArg = Object.keys(navigate.inputSchema.properties ?? {}).find((k) => /url/i.test(k))!;
  const fnArg = Object.keys(evaluate.inputSchema.properties ?? {}).find((k) => /function|expression|script/i.test(k))!;
  return {
    async navigate(url: string) {
      const result = await client.callTool({ name: navigate.name, arguments: { [urlArg]: url } }, undefined, { timeout: 30_000 });
      if (result.isError) throw new Error(`navigate failed: ${textOf(result)}`);
    },
    /** document.cookie and localStorage of the current page, as one string. */
    async readState(): Promise<string> {
      const result = await client.callTool({
        name: evaluate.name,
        arguments: { [fnArg]: "() => 'cookie=' + document.cookie + ';local=' + localStorage.getItem('probe')" },
      });
      if (result.isError) throw new Error(`evaluate failed: ${textOf(result)}`);
      return textOf(result);
    },
  };
}

interface OutsideView {
  /** Live browser processes of the server: descendants of MCP_SERVER_PID and helpers naming its folders. */
  browser: string[];
  tmpEntries: string[];
  outputEntries: string[];
  /** ESTABLISHED connections to MCP_PORT, server side. */
  established: number;
}

/**
 * Looks at a container from outside the code under test: raw `ps`, `ls` and /proc/net/tcp through exec,
 * interpreted here in TypeScript, so the check does not share a line with the cleanup scripts.
 */
async function lookInside(runtime: ContainerRuntime, id: string): Promise<OutsideView> {
  const script = [
    'echo "PID $MCP_SERVER_PID"; echo "PORT $MCP_PORT"; echo "HOME $MCP_HOME"; echo "TMPDIR $MCP_TMPDIR"',
    'echo "=ps"; ps -e -o pid= -o ppid= -o stat= -o comm= -o args=',
    'echo "=tmp"; ls -A "$MCP_TMPDIR"',
    'echo "=out"; ls -A "$MCP_WORKDIR/.playwright-mcp" 2>/dev/null',
    'echo "=tcp"; cat /proc/net/tcp /proc/net/tcp6 2>/dev/null',
  ].join('\n');
  const { stdout } = await runtime.exec(id, ['sh', '-c', script]);
  const sections: Record<string, string[]> = {};
  const vars: Record<string, string> = {};
  let current = '';
  for (const line of stdout.split('\n')) {
    if (line.startsWith('=')) {
      current = line.slice(1);
      sections[current] = [];
    } else if (!current) {
      const [key, ...rest] = line.split(' ');
      if (key) vars[key] = rest.join(' ');
    } else if (line.trim()) {
      sections[current]!.push(line);
    }
  }
  const procs = (sections.ps ?? []).map((l) => {
    const [pid, ppid, stat, comm, ...args] = l.trim().split(/\s+/);
    return { pid: Number(pid), ppid: Number(ppid), stat: stat ?? '', comm: comm ?? '', args: args.join(' ') };
  });
  const server = Number(vars.PID);
  const tree = new Set([server]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (!tree.has(p.pid) && tree.has(p.ppid)) (tree.add(p.pid), (grew = true));
  }
  const ours = (p: (typeof procs)[number]) =>
    (tree.has(p.pid) && p.pid !== server) || (/chrom|crashpad/.test(p.comm) && (p.args.includes(`${vars.HOME}/`) || p.args.includes(`${vars.TMPDIR}/`)));
  const portHex = Number(vars.PORT).toString(16).toUpperCase().padStart(4, '0');
  const established = (sections.tcp ?? []).filter((l) => {
    const f = l.trim().split(/\s+/);
    return f[1]?.endsWith(`:${portHex}`) && f[3] === '01';
  }).length;
  return {
    browser: procs.filter((p) => !p.stat.startsWith('Z') && ours(p)).map((p) => `${p.pid} ${p.comm}`),
    tmpEntries: sections.tmp ?? [],
    outputEntries: sections.out ?? [],
    established,
  };
}

interface Target {
  name: string;
  skip?: string;
  /** Interface the test site listens on, and the host name the browser reaches it by. */
  listenHost: string;
  siteHost: string;
  create(): Promise<{ runtime: ContainerRuntime; close(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: 'process runtime',
    listenHost: '127.0.0.1',
    siteHost: '127.0.0.1',
    async create() {
      const rootDir = await mkdtemp(join(tmpdir(), 'cq-it-cleanup-'));
      const runtime = new ProcessRuntime({ rootDir, killGraceMs: 2_000 });
      return {
        runtime,
        async close() {
          await runtime.close();
          await rm(rootDir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'Docker runtime',
    skip: dockerUnavailable && !process.env.CI ? dockerUnavailable : undefined,
    // The container reaches the host through the bridge gateway, not through loopback.
    listenHost: '0.0.0.0',
    siteHost: 'host.docker.internal',
    async create() {
      if (dockerUnavailable) throw new Error(`CI is set but Docker cannot be used: ${dockerUnavailable}`);
      // Idempotent: a no-op when the image exists, otherwise the full offline build.
      const { stdout } = await run('bash', ['docker/build-image.sh'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
      const image = stdout.trim().split('\n').pop() ?? '';
      const runtime = new DockerRuntime({ image, clock: new SystemClock() });
      return { runtime, close: () => runtime.close() };
    },
  },
];

for (const target of targets) {
  describe.skipIf(target.skip !== undefined)(`cleanup and resets against the ${target.name}${target.skip ? ` (skipped: ${target.skip})` : ''}`, () => {
    const ctx: RunContext = { poolId: `it-cleanup-${randomBytes(3).toString('hex')}`, runId: `run-${randomBytes(3).toString('hex')}` };
    const credentials = new MemberCredentials();
    const startCtx: StartContext = { ...ctx, guardKey: (id) => credentials.keyOf(id) };
    let runtime: ContainerRuntime;
    let closeRuntime: () => Promise<void>;
    let spec: ContainerSpec;
    let site: Awaited<ReturnType<typeof startStatefulSite>>;
    let health: HealthChecker;
    let cleaner: CleanupService;
    let resetter: ContainerResetManager;
    const timings: Record<string, number | string> = {};
    const stageTimes = (result: { stages: Array<{ stage: string; durationMs: number }> }) => result.stages.map((s) => `${s.stage}=${s.durationMs}`).join(' ');

    const url = (path: string) => `http://${target.siteHost}:${site.port}${path}`;

    /** A client browses to the page that sets state and confirms the state is there. */
    async function browseAndLeaveState(port: number): Promise<McpSession & { tools: Awaited<ReturnType<typeof browserTools>> }> {
      const session = await connectClient(port, credentials.forPool(spec.id));
      const tools = await browserTools(session.client);
      await tools.navigate(url('/set'));
      expect(await tools.readState()).toContain(`cookie=probe=${site.token};local=${site.token}`);
      return { ...session, tools };
    }

    /** A browser of this server (new or reset) sees none of the earlier state. */
    async function expectFreshState(tools: Awaited<ReturnType<typeof browserTools>>): Promise<void> {
      await tools.navigate(url('/read'));
      const state = await tools.readState();
      expect(state).toContain('cookie=;local=null');
      expect(state).not.toContain(site.token);
    }

    beforeAll(async () => {
      ({ runtime, close: closeRuntime } = await target.create());
      const [port] = await freePorts(1);
      spec = { id: 'container-1', name: `${ctx.poolId}-mcp-1`, port: port!, memoryMB: 768, cpuPercent: 100 };
      site = await startStatefulSite(target.listenHost);
      health = new HealthChecker({ runtime, config: { startupTimeoutMs: 30_000 }, credentialFor: (id) => credentials.forPool(id) });
      cleaner = new CleanupService({ runtime });
      resetter = new ContainerResetManager({ runtime, health, portOf: () => spec.port, credentialFor: (id) => credentials.forPool(id) });
      await runtime.start(spec, startCtx);
      const gate = await health.isContainerReady(spec.port, spec.id, { timeoutMs: 30_000 });
      expect(gate.ready, JSON.stringify(gate.stages)).toBe(true);
    });

    afterAll(async () => {
      await closeRuntime?.();
      site?.server.close();
      console.info(`[cleanup.test ${target.name}] timings (ms): ${JSON.stringify(timings)}`);
    });

    it('cleanup after a browsing session leaves no Chromium, no temp/output file, no session, and no state for the next client', async () => {
      const first = await browseAndLeaveState(spec.port);
      const during = await lookInside(runtime, spec.id);
      expect(during.browser.length).toBeGreaterThan(2);
      expect(during.tmpEntries.some((e) => e.startsWith('playwright_chromiumdev_profile-'))).toBe(true);
      expect(during.outputEntries.length).toBeGreaterThan(0);
      await first.close();

      const result = await cleaner.cleanup(spec.id, 'full');
      timings.fullCleanupMs = result.durationMs;
      timings.fullCleanupStages = stageTimes(result);
      expect(result.stages.filter((s) => !s.success)).toEqual([]);
      expect(result.success).toBe(true);

      const after = await lookInside(runtime, spec.id);
      expect(after).toEqual({ browser: [], tmpEntries: [], outputEntries: [], established: 0 });

      const next = await connectClient(spec.port, credentials.forPool(spec.id));
      try {
        await expectFreshState(await browserTools(next.client));
      } finally {
        await next.close();
      }
      // The new client's browser is gone again after a minimal cleanup (used under degradation).
      const minimal = await cleaner.cleanup(spec.id, 'minimal');
      timings.minimalCleanupMs = minimal.durationMs;
      timings.minimalCleanupStages = stageTimes(minimal);
      expect(minimal.success, JSON.stringify(minimal.stages)).toBe(true);
      expect((await lookInside(runtime, spec.id)).browser).toEqual([]);
    });

    it('cleanup ends what a holder double-forked from the server (re-parented to init, found by the sandbox marker)', async () => {
      // Distinct per runtime: the host's ps sees the container's processes too.
      const seconds = target.name === 'process runtime' ? 86_406 : 86_407;
      const holder = await browseAndLeaveState(spec.port);
      try {
        const planted = await holder.client.callTool(
          {
            name: 'browser_run_code_unsafe',
            arguments: {
              code: `async () => {
                const p = this.constructor.constructor('return process')();
                p.mainModule.require('child_process').spawn('sh', ['-c', 'sleep ${seconds} >/dev/null 2>&1 &'], { stdio: 'ignore' }).unref();
                return 'planted';
              }`,
            },
          },
          undefined,
          { timeout: 30_000 },
        );
        expect(textOf(planted)).toContain('planted');
      } finally {
        await holder.close();
      }
      const find = ['sh', '-c', `sleep 0.3; ps -e -o ppid=,args= | grep 'sleep ${seconds}' | grep -v grep || true`];
      const before = (await runtime.exec(spec.id, find)).stdout;
      expect(before).toContain(`sleep ${seconds}`);
      // Not a descendant of the server any more: only the marker can find it.
      expect(before.trim().split(/\s+/)[0]).not.toBe(String((await runtime.exec(spec.id, ['sh', '-c', 'echo $MCP_SERVER_PID'])).stdout.trim()));

      const result = await cleaner.cleanup(spec.id, 'minimal');
      expect(result.stages.filter((s) => !s.success)).toEqual([]);
      expect((await runtime.exec(spec.id, find)).stdout).not.toContain(`sleep ${seconds}`);
    });

    it('validateCleanup fails, naming the connection, while a client still holds its session; a hard reset drops it', async () => {
      const holder = await browseAndLeaveState(spec.port);
      try {
        const strict = new CleanupService({ runtime, sessionDrainMs: 500 });
        const result = await strict.cleanup(spec.id, 'minimal');
        expect(result.success).toBe(false);
        const validate = result.stages.at(-1)!;
        expect(validate.stage).toBe('validateCleanup');
        expect(validate.error).toMatch(/connection\(s\) to the MCP port still open \(an MCP client holds its session\) from \S+:\d+/);
        // The browser is gone even though the session is not: the next call would start a fresh one.
        expect((await lookInside(runtime, spec.id)).browser).toEqual([]);

        const reset = await resetter.reset(spec.id, 'hard');
        timings.hardAfterHeldSessionMs = reset.durationMs;
        expect(reset).toMatchObject({ success: true, applied: 'hard' });
      } finally {
        await holder.close();
      }
      const clean = await cleaner.cleanup(spec.id, 'full');
      expect(clean.success, JSON.stringify(clean.stages)).toBe(true);
    });

    it('soft reset: every session ended, the browser kept, and the next session starts without the earlier state', async () => {
      const session = await browseAndLeaveState(spec.port);
      const other = await browseAndLeaveState(spec.port);
      // Chromium's main process: the first one it started (its renderers and helpers come and go with pages).
      const mainOf = (view: OutsideView) => view.browser.filter((p) => / chrom/.test(p)).sort((a, b) => parseInt(a, 10) - parseInt(b, 10))[0];
      const browserBefore = mainOf(await lookInside(runtime, spec.id));
      expect(browserBefore).toBeDefined();
      try {
        const result = await resetter.reset(spec.id, 'soft');
        timings.softMs = result.durationMs;
        expect(result.attempts.map((a) => [a.strategy, a.success, a.error])).toEqual([['soft', true, undefined]]);
        // Both sessions are over for their clients too: the server no longer knows them.
        for (const ended of [session, other]) await expect(ended.tools.navigate(url('/read'))).rejects.toThrow(/Session not found|404/);
        expect((await lookInside(runtime, spec.id)).browser).toContain(browserBefore);
      } finally {
        await session.close();
        await other.close();
      }
      const next = await connectClient(spec.port, credentials.forPool(spec.id));
      try {
        await expectFreshState(await browserTools(next.client));
        // The next session's context is in the same browser: no Chromium was launched for it.
        expect(mainOf(await lookInside(runtime, spec.id))).toBe(browserBefore);
      } finally {
        await next.close();
      }
    });

    it('medium reset: browser killed, temp and output files gone, and the same session recovers', async () => {
      const session = await browseAndLeaveState(spec.port);
      try {
        const result = await resetter.reset(spec.id, 'medium');
        timings.mediumMs = result.durationMs;
        expect(result).toMatchObject({ success: true, applied: 'medium' });
        expect(result.attempts).toHaveLength(1);
        const view = await lookInside(runtime, spec.id);
        expect(view.browser).toEqual([]);
        expect(view.tmpEntries).toEqual([]);
        expect(view.outputEntries).toEqual([]);
        await expectFreshState(session.tools);
      } finally {
        await session.close();
      }
    });

    it.each(['hard', 'recovery'] as const)('%s reset leaves a working server with no earlier state', async (strategy) => {
      const session = await browseAndLeaveState(spec.port);
      await session.close();
      const result = await resetter.reset(spec.id, strategy);
      timings[`${strategy}Ms`] = result.durationMs;
      expect(result).toMatchObject({ success: true, applied: strategy });
      expect(result.attempts).toHaveLength(1);
      const next = await connectClient(spec.port, credentials.forPool(spec.id));
      try {
        await expectFreshState(await browserTools(next.client));
      } finally {
        await next.close();
      }
      const clean = await cleaner.cleanup(spec.id, 'full');
      expect(clean.success, JSON.stringify(clean.stages)).toBe(true);
    });
  });
}
