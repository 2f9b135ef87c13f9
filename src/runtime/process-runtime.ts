import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { constants as osConstants } from 'node:os';
import { SystemClock, type Clock } from '../clock/clock.js';
import type { ContainerSpec } from '../config/pool-config.js';
import { PoolError } from '../errors/pool-error.js';
import { locateChromium, type ChromiumLocation, type LocateChromiumOptions } from './chromium-locator.js';
import type {
  ContainerRuntime,
  ExecResult,
  RunContext,
  RuntimeContainerInfo,
  RuntimeEvent,
  RuntimeState,
  RuntimeStats,
} from './container-runtime.js';
import { reapLeftoverRuns } from './leftover-reaper.js';
import { resolveMcpPackage, type McpPackage } from './mcp-package.js';
import { startMcpOriginGuard, type McpOriginGuard } from './mcp-origin-guard.js';
import { buildMcpServerArgv, buildMcpServerConfig, MCP_SERVER_LIFECYCLE_ENV } from './mcp-server-command.js';
import { probeTcpPort } from './port-probe.js';
import { CLOCK_TICKS_PER_SECOND, processTree, readMemoryKb, readProcEntry, readUptimeSeconds } from './proc-table.js';
import { DEFAULT_KILL_GRACE_MS, signalGroup, terminateProcessGroup } from './process-group.js';
import { identify, writeRunState, type RunState } from './run-state-file.js';
import {
  DEFAULT_SANDBOX_ROOT,
  SANDBOX_MARKER_ENV,
  poolDir,
  runDir,
  sandboxPaths,
  stateFilePath,
  type SandboxPaths,
} from './sandbox-layout.js';

/** @defaultValue 30000 ms: budget of one exec() when the caller gives none. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** Output kept per stream of one exec(); more is cut (cleanup scripts print little). */
const EXEC_OUTPUT_LIMIT_BYTES = 1024 * 1024;
/** How long start() waits for a busy port to be released before calling it taken. */
const PORT_FREE_WAIT_MS = 1_500;
/** A dead server's Chromium gets this long after SIGTERM before SIGKILL: nobody is waiting for it. */
const ORPHAN_GRACE_MS = 1_000;

export interface ProcessRuntimeOptions {
  /** Folder holding every sandbox: `<rootDir>/<poolId>/<runId>/<containerId>/`. @defaultValue DEFAULT_SANDBOX_ROOT */
  rootDir?: string;
  /** Chromium for the servers. @defaultValue found by {@link locateChromium} (Playwright's, else PATH) */
  chromiumPath?: string;
  /** How the Chromium is searched for when `chromiumPath` is unset (tests). */
  chromiumLocator?: Omit<LocateChromiumOptions, 'executablePath'>;
  /** Chromium's own sandbox; see {@link buildMcpServerConfig}. @defaultValue false */
  chromiumSandbox?: boolean;
  /** Extra Chromium switches. @defaultValue none */
  chromiumArgs?: readonly string[];
  /** Extra `@playwright/mcp` CLI flags, after the pool's own (see mcpServerLifecycleArgs). @defaultValue none */
  serverArgs?: readonly string[];
  /** Expose tools pages register through WebMCP (`webmcp_*`); the pool option `mcpServer.webmcp`. @defaultValue false */
  webmcp?: boolean;
  /** Time between SIGTERM and SIGKILL on stop. @defaultValue 5000 ms */
  killGraceMs?: number;
  /** exec() budget when the call gives none. @defaultValue 30000 ms */
  execTimeoutMs?: number;
  /** Environment the servers inherit (sandbox variables are set over it). @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Stamps event times. @defaultValue SystemClock */
  clock?: Clock;
}

interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** Set before a stop signals the group, so its exit is not reported as a death. */
  expectedExit: boolean;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
  cpuSample?: { ticks: number; atMs: number };
  /** The Origin/Host guard on the member's port, in front of the server's private port; lives and dies with it. */
  guard?: McpOriginGuard;
}

interface Member {
  spec: ContainerSpec;
  ctx: RunContext;
  run: RunFolder;
  paths: SandboxPaths;
  server?: ServerProcess;
  /** Why it is not running, once it is not. */
  lastExit?: { exitCode?: number; reason: string };
  /** Lifecycle operations on one member run one at a time, in call order. */
  queue: Promise<unknown>;
}

interface RunFolder {
  dir: string;
  state: RunState;
  writes: Promise<void>;
}

/**
 * The embedded runtime: each pool member is a local `@playwright/mcp` server process with its own working
 * folder, HOME and TMPDIR, leading its own process group so that a stop ends its Chromium too. Needs no
 * Docker, and enforces none of Docker's limits (see `limitations`).
 */
export class ProcessRuntime implements ContainerRuntime, AsyncDisposable {
  readonly kind = 'process' as const;
  readonly limitations: readonly string[];

  private readonly rootDir: string;
  private readonly clock: Clock;
  private readonly killGraceMs: number;
  private readonly execTimeoutMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly members = new Map<string, Member>();
  private readonly runs = new Map<string, RunFolder>();
  private readonly listeners = new Set<(event: RuntimeEvent) => void>();
  private chromium?: ChromiumLocation;
  private mcp?: McpPackage;
  private closing?: Promise<void>;
  private exitHookInstalled = false;
  /** Kills of dead servers' leftover Chromium, still running; close() waits for them. */
  private readonly orphanKills = new Set<Promise<unknown>>();
  /** Last-resort cleanup if the host process exits without close(): kill(2) is synchronous, so it can run. */
  private readonly onHostExit = (): void => {
    for (const member of this.members.values()) if (member.server) signalGroup(member.server.pid, 'SIGKILL');
  };

  constructor(private readonly options: ProcessRuntimeOptions = {}) {
    this.rootDir = options.rootDir ?? DEFAULT_SANDBOX_ROOT;
    this.clock = options.clock ?? new SystemClock();
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.execTimeoutMs = options.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    this.baseEnv = options.env ?? process.env;
    this.limitations = [
      'no memory limit: memoryMB is only observed through stats(), not enforced',
      'no CPU limit: cpuPercent is not enforced',
      'no network isolation: servers bind 127.0.0.1 and their browsers reach whatever this host reaches',
      'no read-only root: servers and exec() commands can write wherever this user can; only HOME, TMPDIR and the working folder are per member',
      'no Docker health check: inspect() reports health "none"',
      ...(options.chromiumSandbox ? [] : ['Chromium runs without its own sandbox (--no-sandbox)']),
    ];
  }

  async reapLeftovers(ctx: RunContext): Promise<string[]> {
    return reapLeftoverRuns(poolDir(this.rootDir, ctx.poolId), this.killGraceMs);
  }

  async start(spec: ContainerSpec, ctx: RunContext): Promise<RuntimeContainerInfo> {
    this.assertOpen(spec.id, 'start');
    const existing = this.members.get(spec.id);
    if (existing?.server) {
      throw runtimeError(spec.id, 'start', `it is already running (pid ${existing.server.pid})`, 'stop it first, or use restart()/recreate()');
    }
    const run = await this.runFolder(ctx);
    const member: Member = {
      spec,
      ctx,
      run,
      paths: sandboxPaths(run.dir, spec.id),
      queue: existing?.queue ?? Promise.resolve(),
    };
    this.members.set(spec.id, member);
    return this.enqueue(member, async () => {
      try {
        await this.freshSandbox(member);
        await this.launch(member);
        return info(member);
      } catch (error) {
        // A failed start leaves nothing behind: no process (launch undoes itself), no folder, no member.
        await rm(member.paths.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
        if (this.members.get(spec.id) === member) this.members.delete(spec.id);
        throw error;
      }
    });
  }

  stop(id: string): Promise<void> {
    const member = this.members.get(id);
    if (!member) return Promise.resolve();
    return this.enqueue(member, () => this.halt(member));
  }

  async restart(id: string): Promise<void> {
    const member = this.requireMember(id, 'restart');
    this.assertOpen(id, 'restart');
    await this.enqueue(member, async () => {
      await this.halt(member);
      await this.launch(member).catch((error: unknown) => this.noteFailedLaunch(member, 'restart', error));
    });
  }

  async recreate(id: string): Promise<RuntimeContainerInfo> {
    const member = this.requireMember(id, 'recreate');
    this.assertOpen(id, 'recreate');
    return this.enqueue(member, async () => {
      await this.halt(member);
      await this.freshSandbox(member);
      await this.launch(member).catch((error: unknown) => this.noteFailedLaunch(member, 'recreate', error));
      return info(member);
    });
  }

  async inspect(id: string): Promise<RuntimeState> {
    const member = this.requireMember(id, 'inspect');
    const server = member.server;
    // /proc is checked too: between the kernel ending the process and Node's exit event there is a moment
    // in which only /proc knows.
    const entry = server ? readProcEntry(server.pid) : undefined;
    if (server && !server.exit && entry && entry.state !== 'Z') return { running: true, health: 'none' };
    const last = member.lastExit ?? (server?.exit ? describeExit(server.exit.code, server.exit.signal) : { reason: 'exited' });
    return { running: false, health: 'none', ...last };
  }

  async exec(id: string, argv: readonly string[], options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const member = this.requireMember(id, 'exec');
    const server = member.server;
    if (!server || server.exit) {
      throw runtimeError(id, 'exec', `it is not running (${member.lastExit?.reason ?? 'stopped'})`, 'restart or recreate it first');
    }
    const [command, ...args] = argv;
    if (command === undefined) {
      throw new PoolError('INVALID_ARGUMENT', `exec on container ${id}: argv is empty; pass the command and its arguments`, { containerId: id });
    }
    const env = {
      ...this.serverEnv(member.paths),
      MCP_HOME: member.paths.homeDir,
      MCP_TMPDIR: member.paths.tmpDir,
      MCP_WORKDIR: member.paths.workDir,
      MCP_SERVER_PID: String(server.pid),
      MCP_PORT: String(member.spec.port),
      // The value of the marker serverEnv sets (SANDBOX_MARKER_ENV), under its contract name for cleanup scripts.
      MCP_SANDBOX: member.paths.dir,
    };
    return runCommand(id, command, args, { cwd: member.paths.workDir, env, timeoutMs: options.timeoutMs ?? this.execTimeoutMs, graceMs: this.killGraceMs });
  }

  async stats(id: string): Promise<RuntimeStats> {
    const member = this.requireMember(id, 'stats');
    const server = member.server;
    if (!server || server.exit) return { memoryMB: 0, cpuPercent: 0 };
    const tree = processTree(server.pid);
    const memoryKb = tree.reduce((sum, e) => sum + readMemoryKb(e.pid), 0);
    const ticks = tree.reduce((sum, e) => sum + e.cpuTicks, 0);
    const atMs = performance.now();
    let cpuPercent: number;
    if (server.cpuSample) {
      const seconds = (atMs - server.cpuSample.atMs) / 1000;
      // Ticks of helpers that exited since the last sample vanish from the sum: clamp, never report < 0.
      cpuPercent = seconds > 0 ? Math.max(0, (ticks - server.cpuSample.ticks) / CLOCK_TICKS_PER_SECOND / seconds) * 100 : 0;
    } else {
      // First call: the average since the server started, so no call has to sleep to measure.
      const leader = tree.find((e) => e.pid === server.pid);
      const lifetime = leader ? readUptimeSeconds() - leader.startTime / CLOCK_TICKS_PER_SECOND : 0;
      cpuPercent = lifetime > 0 ? (ticks / CLOCK_TICKS_PER_SECOND / lifetime) * 100 : 0;
    }
    server.cpuSample = { ticks, atMs };
    return { memoryMB: Math.round((memoryKb / 1024) * 10) / 10, cpuPercent: Math.round(cpuPercent * 10) / 10 };
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Where a member's sandbox is (tests, diagnostics). */
  sandboxOf(id: string): SandboxPaths | undefined {
    return this.members.get(id)?.paths;
  }

  private async shutdown(): Promise<void> {
    // Every step runs even when one fails; the first failure is reported at the end.
    const failures: unknown[] = [];
    await Promise.all(
      [...this.members.values()].map((member) => this.enqueue(member, () => this.halt(member)).catch((e: unknown) => failures.push(e))),
    );
    await Promise.all(this.orphanKills);
    for (const run of this.runs.values()) {
      await run.writes.catch(() => undefined);
      await rm(run.dir, { recursive: true, force: true, maxRetries: 3 }).catch((e: unknown) => failures.push(e));
    }
    // The pool folder and the root are shared with other runs: remove them only when this run was the last.
    for (const dir of new Set([...this.runs.values()].map((r) => poolDir(this.rootDir, r.state.poolId)))) {
      await rmdir(dir).catch(() => undefined);
    }
    await rmdir(this.rootDir).catch(() => undefined);
    process.off('exit', this.onHostExit);
    if (failures.length) {
      throw new PoolError('RUNTIME_ERROR', `Process runtime: close did not finish cleanly: ${String(failures[0])}`, { operation: 'close' }, { cause: failures[0] });
    }
  }

  private enqueue<T>(member: Member, operation: () => Promise<T>): Promise<T> {
    const result = member.queue.then(operation, operation);
    member.queue = result.catch(() => undefined);
    return result;
  }

  private requireMember(id: string, operation: string): Member {
    const member = this.members.get(id);
    if (!member) throw runtimeError(id, operation, 'this runtime never started it', 'start it first; check the container id');
    return member;
  }

  private assertOpen(id: string, operation: string): void {
    if (this.closing) throw runtimeError(id, operation, 'the runtime is closed', 'create a new ProcessRuntime');
  }

  /** The run folder and its state file, made once per run (state first, so a reaper never sees it unowned). */
  private async runFolder(ctx: RunContext): Promise<RunFolder> {
    const dir = runDir(this.rootDir, ctx);
    let run = this.runs.get(dir);
    if (run) return run;
    const owner = identify(process.pid);
    if (!owner) throw runtimeError('-', 'start', 'cannot read /proc/self/stat', 'the process runtime needs Linux /proc; use runtime: \'docker\'');
    const state: RunState = { version: 1, poolId: ctx.poolId, runId: ctx.runId, owner, members: {} };
    // Folder and first state write form the first link of the write chain, so a concurrent start of another
    // member (which finds this run in the map at once) cannot write its state before the folder exists.
    run = { dir, state, writes: mkdir(dir, { recursive: true }).then(() => writeRunState(stateFilePath(dir), state)) };
    this.runs.set(dir, run);
    try {
      await run.writes;
    } catch (error) {
      this.runs.delete(dir);
      throw runtimeError('-', 'start', `cannot create the run folder ${dir}: ${String(error)}`, 'check that the sandbox root is writable, or pass another rootDir', error);
    }
    return run;
  }

  private saveState(run: RunFolder): Promise<void> {
    const snapshot: RunState = structuredClone(run.state);
    run.writes = run.writes.catch(() => undefined).then(() => writeRunState(stateFilePath(run.dir), snapshot));
    return run.writes;
  }

  private async freshSandbox(member: Member): Promise<void> {
    const { paths } = member;
    await rm(paths.dir, { recursive: true, force: true, maxRetries: 3 });
    for (const dir of [paths.workDir, paths.homeDir, paths.tmpDir]) await mkdir(dir, { recursive: true });
  }

  /** Starts the server process of a member whose sandbox exists. Undoes itself when it fails. */
  private async launch(member: Member): Promise<void> {
    const { spec, paths } = member;
    this.assertOpen(spec.id, 'start');
    const mcp = (this.mcp ??= resolveMcpPackage());
    this.chromium ??= locateChromium({ ...this.options.chromiumLocator, executablePath: this.options.chromiumPath });

    // A port already taken would make the server exit with EADDRINUSE a moment later; say so now, plainly.
    // A predecessor killed a moment ago (restart, reaping) may hold it briefly: give it time to let go.
    if (!(await portFreesUp(spec.port, PORT_FREE_WAIT_MS))) {
      throw runtimeError(spec.id, 'start', `port ${spec.port} on 127.0.0.1 is already in use by another program`, 'free the port or choose another basePort / containerSpecs port');
    }

    // The member's port belongs to the Origin/Host guard (mcp-origin-guard.ts); the server listens on a private
    // loopback port and accepts the Host headers that name the member's port, which the guard forwards unchanged.
    const serverPort = await freeLoopbackPort();
    const input = {
      cliPath: mcp.cliPath,
      port: serverPort,
      allowedHosts: [`localhost:${spec.port}`, `127.0.0.1:${spec.port}`],
      chromiumPath: this.chromium.executablePath,
      configPath: paths.configPath,
      chromiumSandbox: this.options.chromiumSandbox,
      chromiumArgs: this.options.chromiumArgs,
      serverArgs: this.options.serverArgs,
      webmcp: this.options.webmcp,
    };
    await writeFile(paths.configPath, `${JSON.stringify(buildMcpServerConfig(input), null, 2)}\n`);
    const logFd = openSync(paths.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, buildMcpServerArgv(input), {
        cwd: paths.workDir,
        // Set over serverEnv, which drops inherited PLAYWRIGHT_MCP_* variables.
        env: { ...this.serverEnv(paths), ...MCP_SERVER_LIFECYCLE_ENV },
        // Its own process group, so stop() can signal the server and every Chromium process at once.
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    const spawned = await new Promise<{ ok: true } | { ok: false; error: Error }>((resolve) => {
      child.once('spawn', () => resolve({ ok: true }));
      child.once('error', (error) => resolve({ ok: false, error }));
    });
    if (!spawned.ok || child.pid === undefined) {
      const cause = spawned.ok ? new Error('no pid') : spawned.error;
      throw runtimeError(spec.id, 'start', `could not spawn ${process.execPath}: ${cause.message}`, 'check that Node can run child processes here', cause);
    }
    // A pool left running by mistake must not keep the host process alive; close() or the exit hook ends it.
    child.unref();

    const pid = child.pid;
    let markExited!: () => void;
    const server: ServerProcess = { child, pid, expectedExit: false, exited: new Promise<void>((r) => (markExited = r)) };
    child.once('exit', (code, signal) => {
      server.exit = { code, signal };
      markExited();
      this.onServerExit(member, server);
    });
    member.server = server;
    member.lastExit = undefined;
    if (!this.exitHookInstalled) {
      process.on('exit', this.onHostExit);
      this.exitHookInstalled = true;
    }

    try {
      const identity = identify(pid);
      member.run.state.members[spec.id] = {
        containerId: spec.id,
        pid,
        pgid: pid,
        startTime: identity?.startTime ?? 0,
        port: spec.port,
        sandboxDir: paths.dir,
      };
      await this.saveState(member.run);
    } catch (error) {
      await this.halt(member).catch(() => undefined);
      throw runtimeError(spec.id, 'start', `could not record the server in ${stateFilePath(member.run.dir)}: ${String(error)}`, 'check the sandbox root is writable', error);
    }
    try {
      const guard = await startMcpOriginGuard({ port: spec.port, upstreamPort: serverPort });
      server.guard = guard;
      // The server may have died while the guard was starting: onServerExit found no guard to close then.
      if (server.exit && !server.expectedExit) await guard.close();
    } catch (error) {
      await this.halt(member).catch(() => undefined);
      throw runtimeError(spec.id, 'start', `could not listen on 127.0.0.1:${spec.port} for the MCP server: ${String(error)}`, 'free the port or choose another basePort / containerSpecs port', error);
    }
    this.emit({ type: 'started', containerId: spec.id, at: this.clock.now() });
  }

  /** Stops a member's server and its whole group; a no-op when it is not running. */
  private async halt(member: Member): Promise<void> {
    const server = member.server;
    if (!server) return;
    server.expectedExit = true;
    // First the guard, so the port stops taking requests for a server that is going away.
    await server.guard?.close();
    await terminateProcessGroup(server.pid, this.killGraceMs);
    // The group is gone; Node's exit event follows as soon as libuv reaps the child.
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, 2_000))]);
    member.server = undefined;
    member.lastExit = { ...(server.exit ? describeExit(server.exit.code, server.exit.signal) : {}), reason: 'stopped' };
    delete member.run.state.members[member.spec.id];
    // The state file only helps reaping (which also finds processes by their marker): a failed write must
    // not turn a successful stop into an error.
    await this.saveState(member.run).catch(() => undefined);
  }

  /** Keeps why a restart/recreate failed, for inspect(), and rethrows. */
  private noteFailedLaunch(member: Member, operation: string, error: unknown): never {
    member.lastExit = { reason: `${operation} failed: ${error instanceof Error ? error.message : String(error)}` };
    throw error;
  }

  private onServerExit(member: Member, server: ServerProcess): void {
    if (server.expectedExit || member.server !== server) return;
    // The port closes with the server, as it did before there was a guard: health probes see a dead port.
    void server.guard?.close();
    const exit = describeExit(server.exit?.code ?? null, server.exit?.signal ?? null);
    // A crash explains itself in its last lines; a signal death (OOM killer, someone's kill) does not.
    const tail = server.exit?.signal ? '' : logTail(member.paths.logPath);
    member.lastExit = { ...exit, reason: tail ? `${exit.reason}; last output: ${tail}` : exit.reason };
    member.server = undefined;
    this.emit({ type: 'died', containerId: member.spec.id, at: this.clock.now(), reason: member.lastExit.reason });
    // Its Chromium may outlive it in the same group; nothing will ever use it again.
    const kill = terminateProcessGroup(server.pid, ORPHAN_GRACE_MS).catch(() => undefined);
    this.orphanKills.add(kill);
    void kill.finally(() => this.orphanKills.delete(kill));
    delete member.run.state.members[member.spec.id];
    void this.saveState(member.run).catch(() => undefined);
  }

  private emit(event: RuntimeEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not break the runtime or hide the event from the other listeners.
      }
    }
  }

  /** The environment of a server and of exec'd commands: the host's, re-rooted into the sandbox. */
  private serverEnv(paths: SandboxPaths): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(this.baseEnv)) {
      // PLAYWRIGHT_MCP_* variables override the server's config file and flags (port, host, browser):
      // inherited from the developer's shell they would silently change what the pool starts.
      // NODE_OPTIONS may carry loaders or --inspect meant for the test process, not for the server.
      if (key.startsWith('PLAYWRIGHT_MCP_') || key === 'NODE_OPTIONS') continue;
      env[key] = value;
    }
    return {
      ...env,
      HOME: paths.homeDir,
      TMPDIR: paths.tmpDir,
      TMP: paths.tmpDir,
      TEMP: paths.tmpDir,
      // Set explicitly because a host that sets them would otherwise share caches across members.
      XDG_CONFIG_HOME: `${paths.homeDir}/.config`,
      XDG_CACHE_HOME: `${paths.homeDir}/.cache`,
      XDG_DATA_HOME: `${paths.homeDir}/.local/share`,
      [SANDBOX_MARKER_ENV]: paths.dir,
    };
  }
}

/** True once nothing accepts connections on 127.0.0.1:port, polling for up to `timeoutMs`. */
async function portFreesUp(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!(await probeTcpPort('127.0.0.1', port, 300)).open) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A loopback port nothing listens on now (the kernel's pick), for a server that only the guard talks to. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

function info(member: Member): RuntimeContainerInfo {
  const { spec, server } = member;
  return { id: spec.id, name: spec.name, port: spec.port, runtimeId: String(server?.pid ?? '') };
}

/** Exit status in Docker's terms: a signal death is 128 + signal number ("137 (killed by SIGKILL)"). */
function describeExit(code: number | null, signal: NodeJS.Signals | null): { exitCode?: number; reason: string } {
  if (signal) {
    const number = osConstants.signals[signal];
    const exitCode = number === undefined ? undefined : 128 + number;
    return { exitCode, reason: `exited with code ${exitCode ?? '?'} (killed by ${signal})` };
  }
  if (code !== null) return { exitCode: code, reason: `exited with code ${code}` };
  return { reason: 'exited' };
}

/** The last few lines of a server's log, on one line, for a death reason. */
function logTail(path: string, bytes = 1_500): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(bytes, size);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
      return lines.slice(-3).join(' | ').slice(-600);
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

function runtimeError(id: string, operation: string, what: string, fix: string, cause?: unknown): PoolError {
  return new PoolError(
    'RUNTIME_ERROR',
    `Process runtime: ${operation} of container ${id} failed: ${what}. Fix: ${fix}.`,
    { containerId: id, operation, runtime: 'process' },
    cause === undefined ? undefined : { cause },
  );
}

interface RunCommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  graceMs: number;
}

/** Runs one command in its own process group, capturing output; on timeout the whole group is ended. */
function runCommand(id: string, command: string, args: string[], options: RunCommandOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collect(child.stdout!);
    const err = collect(child.stderr!);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) void terminateProcessGroup(child.pid, Math.min(options.graceMs, 1_000)).catch(() => undefined);
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(runtimeError(id, 'exec', `could not run ${JSON.stringify(command)}: ${error.message}`, 'check the command exists on this host (the process runtime runs exec on the host)', error));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { exitCode: code ?? describeExit(null, signal).exitCode ?? 1, stdout: out(), stderr: err() };
      if (timedOut) {
        reject(
          new PoolError(
            'RUNTIME_ERROR',
            `Process runtime: exec of container ${id} failed: ${JSON.stringify([command, ...args].join(' '))} did not finish within ${options.timeoutMs} ms and was killed. Fix: make the command faster or pass a larger timeoutMs.`,
            { containerId: id, operation: 'exec', runtime: 'process', timedOut: true, ...result },
          ),
        );
      } else {
        resolve(result);
      }
    });
  });
}

function collect(stream: NodeJS.ReadableStream): () => string {
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
  stream.on('data', (chunk: Buffer) => {
    if (size >= EXEC_OUTPUT_LIMIT_BYTES) {
      cut = true;
      return;
    }
    chunks.push(chunk);
    size += chunk.length;
  });
  return () => {
    const text = Buffer.concat(chunks).toString('utf8').slice(0, EXEC_OUTPUT_LIMIT_BYTES);
    return cut ? `${text}\n[output cut at ${EXEC_OUTPUT_LIMIT_BYTES} bytes]` : text;
  };
}
