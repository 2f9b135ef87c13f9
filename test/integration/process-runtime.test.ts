import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import { isPoolError } from '../../src/errors/pool-error.js';
import { HealthChecker } from '../../src/health/health-checker.js';
import { SANDBOX_MARKER_ENV, type RuntimeEvent, type StartContext } from '../../src/runtime/container-runtime.js';
import { credentialHeaders, MemberCredentials } from '../../src/runtime/member-credentials.js';
import { probeTcpPort } from '../../src/runtime/port-probe.js';
import { listProcesses, readEnvironVariable, readProcEntry } from '../../src/runtime/proc-table.js';
import { ProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { poolDir, runDir } from '../../src/runtime/process/sandbox-layout.js';
import { describeContainerRuntimeContract } from '../contract/container-runtime.contract.js';
import { freePort } from '../support/ports.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const poolId = `itpr-${process.pid}`;
const ctx = { poolId, runId: 'run-1' };
const credentials = new MemberCredentials();
const startCtx: StartContext = { ...ctx, guardKey: (id) => credentials.keyOf(id) };


function spec(i: number, port: number): ContainerSpec {
  return { id: `container-${i}`, name: `${poolId}-${i}`, port, memoryMB: 512, cpuPercent: 80 };
}

/** Live processes carrying the sandbox marker of anything under `root`. */
function processesUnder(root: string): number[] {
  return listProcesses()
    .filter((e) => e.state !== 'Z' && readEnvironVariable(e.pid, SANDBOX_MARKER_ENV)?.startsWith(root))
    .map((e) => e.pid);
}

function alive(pid: number): boolean {
  const entry = readProcEntry(pid);
  return entry !== undefined && entry.state !== 'Z';
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

describeContainerRuntimeContract('process', async () => {
  const rootDir = await mkdtemp(join(tmpdir(), 'cqa-contract-'));
  const runtime = new ProcessRuntime({ rootDir, killGraceMs: 2_000 });
  const contractPool = `${poolId}-contract`;
  return {
    runtime,
    ctx: { poolId: contractPool, runId: 'run-1' },
    namePrefix: contractPool,
    async killServer(id) {
      const pid = Number((await runtime.exec(id, ['sh', '-c', 'echo $MCP_SERVER_PID'])).stdout.trim());
      process.kill(pid, 'SIGKILL');
    },
    leftovers: async () => [
      ...processesUnder(rootDir).map((pid) => `process ${pid}`),
      ...(existsSync(poolDir(rootDir, contractPool)) ? [`folder ${poolDir(rootDir, contractPool)}`] : []),
    ],
    cleanup: () => rm(rootDir, { recursive: true, force: true }),
  };
});

describe('ProcessRuntime against real @playwright/mcp and Chromium', () => {
  let rootDir: string;
  let runtime: ProcessRuntime;
  let checker: HealthChecker;
  let page: HttpServer;
  let pageUrl: string;
  const events: RuntimeEvent[] = [];
  const specs: ContainerSpec[] = [];

  beforeAll(async () => {
    rootDir = await mkdtemp(join(tmpdir(), 'cqa-it-'));
    runtime = new ProcessRuntime({ rootDir, killGraceMs: 2_000 });
    runtime.onEvent((e) => events.push(e));
    // A cold server's first MCP answer took over the default 5 s stage budget at load 16 on 2 cores: these tests
    // check that members pass the gate, not how fast, so the budgets hold with both cores busy.
    checker = new HealthChecker({ runtime, config: { stageTimeoutMs: 20_000, startupTimeoutMs: 60_000 }, credentialFor: (id) => credentials.forPool(id) });
    specs.push(spec(1, await freePort()), spec(2, await freePort()));
    page = createHttpServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>Cinnamon fixture</title><h1>Hello from the pool test</h1><button>Press me</button>');
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await runtime?.close();
    await new Promise((resolve) => page?.close(resolve));
    await rm(rootDir, { recursive: true, force: true });
  });

  it('starts two members that pass tcp, mcp and runtime', async () => {
    const started = performance.now();
    const infos = await Promise.all(specs.map((s) => runtime.start(s, startCtx)));
    const reports = await Promise.all(infos.map((info) => checker.isContainerReady(info.port, info.id)));
    const total = performance.now() - started;
    for (const [i, report] of reports.entries()) {
      expect(report.ready, JSON.stringify(report)).toBe(true);
      expect(report.stages.map((s) => s.stage)).toEqual(['tcp', 'mcp', 'runtime']);
      expect(infos[i]!.runtimeId).toMatch(/^\d+$/);
      console.log(
        `[timing] ${report.containerId}: start→ready ${Math.round(total)} ms; ` + report.stages.map((s) => `${s.stage} ${Math.round(s.durationMs)} ms`).join(', '),
      );
    }
    expect(events.filter((e) => e.type === 'started').map((e) => e.containerId).sort()).toEqual(['container-1', 'container-2']);
    expect(runtime.limitations.join(' ')).toMatch(/no memory limit.*no CPU limit.*no network isolation.*no read-only root/);
  });

  it('drives Chromium to a page served by the test and reads it back with browser_snapshot', async () => {
    const client = new Client({ name: 'process-runtime-it', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`http://localhost:${specs[0]!.port}/mcp`), {
      requestInit: { headers: credentialHeaders(credentials.forPool('container-1')) },
    });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      const navigate = tools.find((t) => t.name === 'browser_navigate');
      const snapshot = tools.find((t) => t.name === 'browser_snapshot');
      // Arguments come from the schemas the server publishes, not from memory of some version.
      expect(navigate?.inputSchema.required).toEqual(['url']);
      expect((navigate?.inputSchema.properties?.url as { type?: string } | undefined)?.type).toBe('string');
      expect(snapshot?.inputSchema.required ?? []).toEqual([]);

      const t0 = performance.now();
      const navigated = await client.callTool({ name: 'browser_navigate', arguments: { url: pageUrl } });
      const navigateMs = performance.now() - t0;
      expect(navigated.isError ?? false, JSON.stringify(navigated.content)).toBe(false);
      const t1 = performance.now();
      const snap = await client.callTool({ name: 'browser_snapshot', arguments: {} });
      const snapshotMs = performance.now() - t1;
      const text = (snap.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? '').join('\n');
      expect(text).toContain('Cinnamon fixture');
      expect(text).toMatch(/heading "Hello from the pool test"/);
      expect(text).toMatch(/button "Press me"/);
      console.log(`[timing] first browser_navigate ${Math.round(navigateMs)} ms, browser_snapshot ${Math.round(snapshotMs)} ms`);

      // The server writes its output under the member's working folder, which is what MCP_WORKDIR names.
      const workDir = runtime.sandboxOf('container-1')!.workDir;
      expect(existsSync(join(workDir, '.playwright-mcp'))).toBe(true);

      const stats = await runtime.stats('container-1');
      expect(stats.memoryMB).toBeGreaterThan(50);
      expect(stats.cpuPercent).toBeGreaterThanOrEqual(0);
      const again = await runtime.stats('container-1');
      expect(again.memoryMB).toBeGreaterThan(0);
      console.log(`[stats] container-1 with Chromium: ${stats.memoryMB} MB, ${stats.cpuPercent}% CPU (lifetime), then ${again.cpuPercent}%`);
    } finally {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    }
  });

  it('exec runs on the host in the member\'s sandbox folders', async () => {
    const paths = runtime.sandboxOf('container-2')!;
    const result = await runtime.exec('container-2', ['sh', '-c', 'printf "%s\\n" "$MCP_HOME" "$MCP_TMPDIR" "$MCP_WORKDIR" "$MCP_SANDBOX" "$TMPDIR"']);
    const [home, tmp, work, sandbox, TMPDIR] = result.stdout.trim().split('\n');
    expect({ home, tmp, work, sandbox, TMPDIR }).toEqual({ home: paths.homeDir, tmp: paths.tmpDir, work: paths.workDir, sandbox: paths.dir, TMPDIR: paths.tmpDir });
  });

  it('a killed server\'s Chromium does not outlive it, and the gate fails', async () => {
    const id = 'container-1';
    const pid = Number((await runtime.exec(id, ['sh', '-c', 'echo $MCP_SERVER_PID'])).stdout.trim());
    const chromiumPids = listProcesses().filter((e) => e.pgid === pid && e.pid !== pid).map((e) => e.pid);
    const died = new Promise<RuntimeEvent>((resolve) => {
      const off = runtime.onEvent((event) => {
        if (event.type === 'died' && event.containerId === id) {
          off();
          resolve(event);
        }
      });
    });
    process.kill(pid, 'SIGKILL');
    // How fast and in which words a death is reported is the runtime contract's; here: what follows it.
    await died;

    const report = await checker.isContainerReady(specs[0]!.port, id, { timeoutMs: 3_000 });
    expect(report.ready).toBe(false);
    expect(['tcp', 'runtime']).toContain(report.failedStage);
    expect(await runtime.inspect(id)).toMatchObject({ running: false, exitCode: 137 });
    // The dead server's Chromium does not outlive it.
    expect(await waitFor(() => chromiumPids.every((p) => !alive(p)), 3_000)).toBe(true);
  });

  it('restart keeps the sandbox, recreate makes a fresh one; both pass the gate again', async () => {
    const id = 'container-1';
    const keep = join(runtime.sandboxOf(id)!.workDir, 'kept.txt');
    await writeFile(keep, 'x');
    await runtime.restart(id);
    expect((await checker.isContainerReady(specs[0]!.port, id)).ready).toBe(true);
    expect(existsSync(keep)).toBe(true);

    const before = (await runtime.inspect(id)).running;
    const info = await runtime.recreate(id);
    expect(before).toBe(true);
    expect(info).toMatchObject({ id, port: specs[0]!.port });
    expect((await checker.isContainerReady(info.port, id)).ready).toBe(true);
    expect(existsSync(keep)).toBe(false);
    expect(events.filter((e) => e.type === 'died' && e.containerId === id)).toHaveLength(1);
  });

  it('a stopped member says so, fails the gate at tcp and reports zero use', async () => {
    await runtime.stop('container-2');
    expect(await runtime.inspect('container-2')).toMatchObject({ running: false, reason: 'stopped' });
    const report = await checker.isContainerReady(specs[1]!.port, 'container-2', { timeoutMs: 2_000 });
    expect(report.failedStage).toBe('tcp');
    expect(report.stages[0]?.error).toMatch(/not running: stopped/);
    expect(events.some((e) => e.type === 'died' && e.containerId === 'container-2')).toBe(false);
    expect(await runtime.stats('container-2')).toEqual({ memoryMB: 0, cpuPercent: 0 });
  });

  it('refuses a port another program holds, and leaves nothing behind', async () => {
    const taken = specs[0]!.port;
    const attempt = runtime.start({ ...spec(3, taken) }, startCtx);
    await expect(attempt).rejects.toSatisfy((e: unknown) => isPoolError(e, 'RUNTIME_ERROR') && /port \d+ on 127\.0\.0\.1 is already in use/.test((e as Error).message));
    expect(runtime.sandboxOf('container-3')).toBeUndefined();
    expect(readdirSync(runDir(rootDir, ctx))).not.toContain('container-3');
  });

  it('reaps the leftovers of a crashed run, and leaves a live run alone', async () => {
    const port = await freePort();
    const script = join(rootDir, 'crashed-run.mts');
    const runtimeModule = join(repoRoot, 'src/runtime/process/process-runtime.js');
    await writeFile(
      script,
      `import { ProcessRuntime } from ${JSON.stringify(runtimeModule)};
const runtime = new ProcessRuntime({ rootDir: ${JSON.stringify(rootDir)} });
const info = await runtime.start({ id: 'container-1', name: 'crashed-1', port: ${port}, memoryMB: 512, cpuPercent: 80 }, { poolId: ${JSON.stringify(poolId)}, runId: 'crashed-run', guardKey: () => ${JSON.stringify(credentials.keyOf('container-1'))} });
console.log(JSON.stringify(info));
setInterval(() => undefined, 1000);
`,
    );
    const owner = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      owner.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      owner.once('exit', (code) => reject(new Error(`crash-run script exited early with ${code}`)));
    });
    const serverPid = Number((JSON.parse(line) as { runtimeId: string }).runtimeId);
    expect(await waitFor(async () => (await probeTcpPort('127.0.0.1', port, 200)).open, 10_000)).toBe(true);

    // The crash: its owner dies without close(); the server and its folder stay behind.
    owner.kill('SIGKILL');
    await new Promise((resolve) => owner.once('exit', resolve));
    expect(alive(serverPid)).toBe(true);
    const crashedDir = runDir(rootDir, { poolId, runId: 'crashed-run' });
    expect(existsSync(crashedDir)).toBe(true);
    const state = JSON.parse(await readFile(join(crashedDir, 'state.json'), 'utf8')) as { members: Record<string, { pid: number }> };
    expect(state.members['container-1']?.pid).toBe(serverPid);

    const next = new ProcessRuntime({ rootDir, killGraceMs: 2_000 });
    const removed = await next.reapLeftovers({ poolId, runId: 'run-2' });
    await next.close();
    expect(removed).toContain(`folder ${crashedDir}`);
    expect(removed.some((r) => r.startsWith(`process group ${serverPid} `))).toBe(true);
    expect(alive(serverPid)).toBe(false);
    expect(existsSync(crashedDir)).toBe(false);
    expect((await probeTcpPort('127.0.0.1', port, 200)).open).toBe(false);

    // This file's own runtime is a live run of the same pool: untouched.
    expect((await runtime.inspect('container-1')).running).toBe(true);
    expect(existsSync(runDir(rootDir, ctx))).toBe(true);
  });
});
