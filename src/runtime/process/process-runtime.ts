import type { ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import type { Clock } from '../../clock/clock.js';
import { sleepOn } from '../../clock/clock-wait.js';
import type { ContainerSpec } from '../../config/pool-config.js';
import { PoolError } from '../../errors/pool-error.js';
import type {
  ContainerRuntime,
  ExecResult,
  RunContext,
  StartContext,
  RuntimeContainerInfo,
  RuntimeEvent,
  RuntimeState,
  RuntimeStats,
} from '../container-runtime.js';
import { describeExit, type ExitDescription } from '../exit-description.js';
import { startMcpGuard, type McpGuard } from '../mcp-guard.js';
import { runtimeError } from '../runtime-error.js';
import { RuntimeEventHub } from '../runtime-event-hub.js';
import { locateChromium, type ChromiumLocation } from './chromium-locator.js';
import { execCommand } from './exec-command.js';
import { reapLeftoverRuns } from './leftover-reaper.js';
import { logTail } from './log-tail.js';
import { resolveMcpPackage, type McpPackage } from './mcp-package.js';
import { readProcEntry } from '../proc-table.js';
import { signalGroup, terminateProcessGroup } from './process-group.js';
import { parseProcessRuntimeOptions, type ProcessRuntimeConfig, type ProcessRuntimeOptions } from './process-runtime-options.js';
import { serverTreeStats, type CpuSample } from './process-stats.js';
import { RunFolders, type RunFolder } from './run-folders.js';
import { identify, isAlive } from './run-state-file.js';
import { killGuardNow, startGuardProcess, type GuardProcess } from './guard-process.js';
import type { WarmMember } from './warm-members.js';
import { poolDir, sandboxPaths, stateFilePath, type SandboxPaths } from './sandbox-layout.js';
import { execEnv, sandboxEnv } from './server-env.js';
import { spawnServer } from './server-launch.js';

export type { ProcessRuntimeOptions } from './process-runtime-options.js';

/** How often an adopted server (not our child, no exit event) is checked in /proc. */
const ADOPTED_EXIT_POLL_MS = 500;
/** A dead server's Chromium gets this long after SIGTERM before SIGKILL: nobody is waiting for it. */
const ORPHAN_GRACE_MS = 1_000;
/** How long a stop waits for Node's exit event once the group is gone (libuv reaps the child at once). */
const EXIT_EVENT_WAIT_MS = 2_000;

interface ServerProcess {
  /** Absent for a server adopted from an earlier run (not our child): its exit is seen by polling /proc. */
  child?: ChildProcess;
  pid: number;
  /** The private loopback port it listens on, behind the guard. */
  serverPort: number;
  /** Polls /proc for an adopted server's exit. */
  watch?: NodeJS.Timeout;
  /** Set before a stop signals the group, so its exit is not reported as a death. */
  expectedExit: boolean;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
  cpuSample?: CpuSample;
  /** The guard (Origin/Host, lease credential) on the member's port, in front of the server's private port; lives and dies with it. */
  guard?: McpGuard | GuardProcess;
}

interface Member {
  spec: ContainerSpec;
  run: RunFolder;
  paths: SandboxPaths;
  /** The key its guard checks lease credentials with (StartContext.guardKey). */
  guardKey: string;
  server?: ServerProcess;
  /** Why it is not running, once it is not. */
  lastExit?: ExitDescription;
  /** Lifecycle operations on one member run one at a time, in call order. */
  queue: Promise<unknown>;
}

/**
 * The embedded runtime: each pool member is a local `@playwright/mcp` server process with its own working
 * folder, HOME and TMPDIR, leading its own process group so that a stop ends its Chromium too, behind the
 * Origin/Host guard (mcp-guard.ts) on the member's port. Needs no Docker, and enforces none of Docker's
 * limits (see `limitations`).
 */
export class ProcessRuntime implements ContainerRuntime, AsyncDisposable {
  readonly kind = 'process' as const;
  readonly limitations: readonly string[];

  private readonly options: ProcessRuntimeConfig;
  private readonly rootDir: string;
  private readonly clock: Clock;
  private readonly killGraceMs: number;
  private readonly execTimeoutMs: number;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly members = new Map<string, Member>();
  private readonly runs: RunFolders;
  private readonly hub = new RuntimeEventHub();
  private chromium?: ChromiumLocation;
  private mcp?: McpPackage;
  private closing?: Promise<void>;
  private exitHookInstalled = false;
  /** Kills of dead servers' leftover Chromium, still running; close() waits for them. */
  private readonly orphanKills = new Set<Promise<unknown>>();
  /** Last-resort cleanup if the host process exits without close(): kill(2) is synchronous, so it can run. */
  private readonly onHostExit = (): void => {
    for (const member of this.members.values()) {
      if (!member.server) continue;
      signalGroup(member.server.pid, 'SIGKILL');
      if (member.server.guard && 'identity' in member.server.guard) killGuardNow(member.server.guard);
    }
  };

  constructor(input: ProcessRuntimeOptions = {}) {
    const options = parseProcessRuntimeOptions(input);
    this.options = options;
    this.rootDir = options.rootDir;
    this.clock = options.clock;
    this.killGraceMs = options.killGraceMs;
    this.execTimeoutMs = options.execTimeoutMs;
    this.baseEnv = options.env;
    this.runs = new RunFolders(this.rootDir);
    this.limitations = [
      'no memory limit: memoryMB is only observed through stats(), not enforced',
      'no CPU limit: cpuPercent is not enforced',
      `no network isolation: servers bind 127.0.0.1 (their guards ${options.bindAddress}) and their browsers reach whatever this host reaches`,
      'no read-only root: servers and exec() commands can write wherever this user can; only HOME, TMPDIR and the working folder are per member',
      'no Docker health check: inspect() reports health "none"',
      ...(options.chromiumSandbox ? [] : ['Chromium runs without its own sandbox (--no-sandbox)']),
    ];
  }

  async reapLeftovers(ctx: RunContext): Promise<string[]> {
    return reapLeftoverRuns(poolDir(this.rootDir, ctx.poolId), this.killGraceMs, this.clock);
  }

  async start(spec: ContainerSpec, ctx: StartContext): Promise<RuntimeContainerInfo> {
    this.assertOpen(spec.id, 'start');
    const existing = this.members.get(spec.id);
    if (existing?.server) {
      throw fail(spec.id, 'start', `it is already running (pid ${existing.server.pid})`, 'Stop it first, or use restart()/recreate().');
    }
    const run = await this.runs.get(ctx);
    const member: Member = { spec, run, paths: sandboxPaths(run.dir, spec.id), guardKey: ctx.guardKey(spec.id), queue: existing?.queue ?? Promise.resolve() };
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
      await this.launch(member).catch((error: unknown) => noteFailedLaunch(member, 'restart', error));
    });
  }

  async recreate(id: string): Promise<RuntimeContainerInfo> {
    const member = this.requireMember(id, 'recreate');
    this.assertOpen(id, 'recreate');
    return this.enqueue(member, async () => {
      await this.halt(member);
      await this.freshSandbox(member);
      await this.launch(member).catch((error: unknown) => noteFailedLaunch(member, 'recreate', error));
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
      throw fail(id, 'exec', `it is not running (${member.lastExit?.reason ?? 'stopped'})`, 'Restart or recreate it first.');
    }
    if (argv.length === 0) {
      throw new PoolError('INVALID_ARGUMENT', `exec on container ${id}: argv is empty; pass the command and its arguments`, { containerId: id });
    }
    return execCommand(argv, {
      containerId: id,
      cwd: member.paths.workDir,
      env: execEnv(this.baseEnv, member.paths, server.pid, member.spec.port),
      timeoutMs: options.timeoutMs ?? this.execTimeoutMs,
      graceMs: this.killGraceMs,
    });
  }

  async stats(id: string): Promise<RuntimeStats> {
    const member = this.requireMember(id, 'stats');
    const server = member.server;
    if (!server || server.exit) return { memoryMB: 0, cpuPercent: 0 };
    const { stats, sample } = serverTreeStats(server.pid, server.cpuSample);
    server.cpuSample = sample;
    return stats;
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    return this.hub.add(listener);
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

  /**
   * Makes `ctx`'s run folder this runtime's (its state file names this process as owner), so reaping spares it:
   * a warm pool's members live there between runs (issue 13).
   */
  async claimRun(ctx: RunContext): Promise<void> {
    await this.runs.get(ctx);
  }

  /**
   * Takes over a warm member an earlier run left running (issue 13): its server and browser are kept; its guard
   * is replaced by one checking this run's key (so no private key is ever written down, and the new guard starts
   * closed until the pool fences it). Throws RUNTIME_ERROR, changing nothing, when the recorded server is gone
   * or lives in another sandbox folder than `ctx` gives this member.
   */
  async adopt(spec: ContainerSpec, ctx: StartContext, warm: WarmMember): Promise<RuntimeContainerInfo> {
    this.assertOpen(spec.id, 'adopt');
    if (this.members.get(spec.id)?.server) throw fail(spec.id, 'adopt', 'a server of this runtime already runs for it', 'Stop it first.');
    const run = await this.runs.get(ctx);
    const paths = sandboxPaths(run.dir, spec.id);
    if (paths.dir !== warm.sandboxDir || warm.port !== spec.port || !isAlive(warm.server)) {
      throw fail(spec.id, 'adopt', `the warm member (pid ${warm.server.pid}, ${warm.sandboxDir}, port ${warm.port}) is gone or not this member's`, 'Start it anew.');
    }
    const member: Member = { spec, run, paths, guardKey: ctx.guardKey(spec.id), queue: Promise.resolve() };
    this.members.set(spec.id, member);
    return this.enqueue(member, async () => {
      let markExited!: () => void;
      const server: ServerProcess = { pid: warm.server.pid, serverPort: warm.serverPort, expectedExit: false, exited: new Promise<void>((r) => (markExited = r)) };
      server.watch = setInterval(() => {
        if (isAlive(warm.server)) return;
        server.exit = { code: null, signal: null };
        markExited();
        this.onServerExit(member, server);
      }, ADOPTED_EXIT_POLL_MS);
      server.watch.unref();
      member.server = server;
      if (!this.exitHookInstalled) {
        process.on('exit', this.onHostExit);
        this.exitHookInstalled = true;
      }
      try {
        await terminateProcessGroup(warm.guard.pid, this.killGraceMs).catch(() => undefined);
        await this.runs.record(run, spec.id, { containerId: spec.id, pid: warm.server.pid, pgid: warm.server.pid, startTime: warm.server.startTime, port: spec.port, sandboxDir: paths.dir });
        const { advertisedHost } = this.options;
        server.guard = await this.startGuard(member, server.pid, server.serverPort, advertisedHost ? [`${advertisedHost}:${spec.port}`] : []);
      } catch (error) {
        await this.halt(member).catch(() => undefined);
        this.members.delete(spec.id);
        throw fail(spec.id, 'adopt', `could not take the warm member over: ${String(error)}`, 'It was stopped; start it anew.', error);
      }
      return info(member);
    });
  }

  /**
   * Forgets every running member without stopping it (a warm pool's end of run, issue 13) and closes the
   * runtime; returns what a later run needs to adopt them. Only with `warmIdleMs` (guards of their own).
   */
  async detach(): Promise<WarmMember[]> {
    if (this.options.warmIdleMs === undefined) throw fail('*', 'detach', 'its guards run in this process and end with it', 'Create the runtime with warmIdleMs.');
    const kept: WarmMember[] = [];
    for (const member of this.members.values()) {
      await member.queue;
      const server = member.server;
      if (server?.watch) clearInterval(server.watch);
      const guard = server?.guard;
      const identity = server ? identify(server.pid) : undefined;
      if (!server || server.exit || !identity || !guard || !('identity' in guard)) continue;
      server.expectedExit = true;
      kept.push({ containerId: member.spec.id, port: member.spec.port, serverPort: server.serverPort, server: identity, guard: guard.identity, sandboxDir: member.paths.dir });
    }
    this.members.clear();
    process.off('exit', this.onHostExit);
    this.closing ??= Promise.all(this.orphanKills).then(() => undefined);
    return kept;
  }

  private startGuard(member: Member, serverPid: number, serverPort: number, allowedHosts: string[]): Promise<McpGuard | GuardProcess> {
    const { spec, paths } = member;
    const { bindAddress, warmIdleMs } = this.options;
    if (warmIdleMs === undefined) {
      return startMcpGuard({ port: spec.port, upstreamPort: serverPort, host: bindAddress, key: member.guardKey, member: spec.id, allowedHosts });
    }
    return startGuardProcess({
      containerId: spec.id,
      port: spec.port,
      upstreamPort: serverPort,
      host: bindAddress,
      key: member.guardKey,
      allowedHosts,
      sandboxDir: paths.dir,
      logPath: `${paths.dir}/guard.log`,
      idleMs: warmIdleMs,
      idlePgid: serverPid,
      clock: this.clock,
    });
  }

  private async shutdown(): Promise<void> {
    // Every step runs even when one fails; the first failure is reported at the end.
    const failures: unknown[] = [];
    await Promise.all(
      [...this.members.values()].map((member) => this.enqueue(member, () => this.halt(member)).catch((e: unknown) => failures.push(e))),
    );
    await Promise.all(this.orphanKills);
    await this.runs.removeAll(failures);
    process.off('exit', this.onHostExit);
    if (failures.length) {
      throw runtimeError('process', { stage: 'close', problem: String(failures[0]), fix: 'Check for leftovers under the sandbox root; the next run reaps them.', cause: failures[0] });
    }
  }

  private enqueue<T>(member: Member, operation: () => Promise<T>): Promise<T> {
    const result = member.queue.then(operation, operation);
    member.queue = result.catch(() => undefined);
    return result;
  }

  private requireMember(id: string, operation: string): Member {
    const member = this.members.get(id);
    if (!member) throw fail(id, operation, 'this runtime never started it', 'Start it first; check the container id.');
    return member;
  }

  private assertOpen(id: string, operation: string): void {
    if (this.closing) throw fail(id, operation, 'the runtime is closed', 'Create a new ProcessRuntime.');
  }

  private async freshSandbox(member: Member): Promise<void> {
    const { paths } = member;
    await rm(paths.dir, { recursive: true, force: true, maxRetries: 3 });
    for (const dir of [paths.workDir, paths.homeDir, paths.tmpDir]) await mkdir(dir, { recursive: true });
  }

  /** Starts the server process and its guard for a member whose sandbox exists. Undoes itself when it fails. */
  private async launch(member: Member): Promise<void> {
    const { spec, paths } = member;
    this.assertOpen(spec.id, 'start');
    const mcp = (this.mcp ??= resolveMcpPackage());
    this.chromium ??= locateChromium({ ...this.options.chromiumLocator, executablePath: this.options.chromiumPath });
    const { child, pid, serverPort } = await spawnServer({
      containerId: spec.id,
      port: spec.port,
      paths,
      env: sandboxEnv(this.baseEnv, paths),
      cliPath: mcp.cliPath,
      chromiumPath: this.chromium.executablePath,
      chromiumSandbox: this.options.chromiumSandbox,
      chromiumArgs: this.options.chromiumArgs,
      serverArgs: this.options.serverArgs,
      webmcp: this.options.webmcp,
      clock: this.clock,
    });
    let markExited!: () => void;
    const server: ServerProcess = { child, pid, serverPort, expectedExit: false, exited: new Promise<void>((r) => (markExited = r)) };
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
      const startTime = identify(pid)?.startTime ?? 0;
      const record = { containerId: spec.id, pid, pgid: pid, startTime, port: spec.port, sandboxDir: paths.dir };
      await this.runs.record(member.run, spec.id, record);
    } catch (error) {
      await this.halt(member).catch(() => undefined);
      throw fail(spec.id, 'start', `could not record the server in ${stateFilePath(member.run.dir)}: ${String(error)}`, 'Check the sandbox root is writable.', error);
    }
    try {
      const { advertisedHost } = this.options;
      const allowedHosts = advertisedHost ? [`${advertisedHost}:${spec.port}`] : [];
      const guard = await this.startGuard(member, pid, serverPort, allowedHosts);
      // Like the server child (unref'd), an idle guard must not keep a pool left running by mistake alive.
      guard.unref();
      server.guard = guard;
      // The server may have died while the guard was starting: onServerExit found no guard to close then.
      if (server.exit && !server.expectedExit) await guard.close();
    } catch (error) {
      await this.halt(member).catch(() => undefined);
      throw fail(spec.id, 'start', `could not listen on ${this.options.bindAddress}:${spec.port} for the MCP server: ${String(error)}`, 'Free the port or choose another basePort / containerSpecs port.', error);
    }
    this.hub.emit({ type: 'started', containerId: spec.id, at: this.clock.now() });
  }

  /** Stops a member's server and its whole group; a no-op when it is not running. */
  private async halt(member: Member): Promise<void> {
    const server = member.server;
    if (!server) return;
    server.expectedExit = true;
    if (server.watch) clearInterval(server.watch);
    // First the guard, so the port stops taking requests for a server that is going away.
    await server.guard?.close();
    await terminateProcessGroup(server.pid, this.killGraceMs);
    // The group is gone; Node's exit event follows as soon as libuv reaps the child.
    // An adopted server is not our child: no exit event comes, and the group being gone is all there is to know.
    if (server.child) await Promise.race([server.exited, sleepOn(this.clock, EXIT_EVENT_WAIT_MS)]);
    member.server = undefined;
    member.lastExit = { ...(server.exit ? describeExit(server.exit.code, server.exit.signal) : {}), reason: 'stopped' };
    // The state file only helps reaping (which also finds processes by their marker): a failed write must
    // not turn a successful stop into an error.
    await this.runs.record(member.run, member.spec.id, undefined).catch(() => undefined);
  }

  private onServerExit(member: Member, server: ServerProcess): void {
    if (server.watch) clearInterval(server.watch);
    if (server.expectedExit || member.server !== server) return;
    // The port closes with the server, as it did before there was a guard: health probes see a dead port.
    void server.guard?.close();
    const exit = describeExit(server.exit?.code ?? null, server.exit?.signal ?? null);
    // A crash explains itself in its last lines; a signal death (OOM killer, someone's kill) does not.
    const tail = server.exit?.signal ? '' : logTail(member.paths.logPath);
    member.lastExit = { ...exit, reason: tail ? `${exit.reason}; last output: ${tail}` : exit.reason };
    member.server = undefined;
    this.hub.emit({ type: 'died', containerId: member.spec.id, at: this.clock.now(), reason: member.lastExit.reason });
    // Its Chromium may outlive it in the same group; nothing will ever use it again.
    const kill = terminateProcessGroup(server.pid, ORPHAN_GRACE_MS).catch(() => undefined);
    this.orphanKills.add(kill);
    void kill.finally(() => this.orphanKills.delete(kill));
    void this.runs.record(member.run, member.spec.id, undefined).catch(() => undefined);
  }
}

function fail(containerId: string, stage: string, problem: string, fix: string, cause?: unknown): PoolError {
  return runtimeError('process', { containerId, stage, problem, fix, cause });
}

/** Keeps why a restart/recreate failed, for inspect(), and rethrows. */
function noteFailedLaunch(member: Member, operation: string, error: unknown): never {
  member.lastExit = { reason: `${operation} failed: ${error instanceof Error ? error.message : String(error)}` };
  throw error;
}

function info(member: Member): RuntimeContainerInfo {
  const { spec, server } = member;
  return { id: spec.id, name: spec.name, port: spec.port, runtimeId: String(server?.pid ?? '') };
}
