import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SystemClock, type Clock } from '../clock/clock.js';
import type { PoolConfig } from '../config/pool-config.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { COORDINATOR_FILE, type CoordinatorFileBody } from '../protocol/coordinator-file.js';
import { ContainerPoolManager } from '../pool/container-pool-manager.js';
import type { HealthGate } from '../health/health-gate.js';
import type { PoolLogger } from '../pool/pool-events.js';
import type { ContainerRuntime, RuntimeKind } from '../runtime/container-runtime.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import type { PoolStore } from '../store/pool-store.js';
import { RedisPoolStore } from '../store/redis-store.js';
import { DEFAULT_HISTORY_FILE, type PluginOptions } from './container-pool-options.js';
import { startCoordinator, type FinalSnapshot, type RunningCoordinator } from './coordinator-server.js';
import { HistoryFile } from './history-file.js';
import { createRuntime, planRuntime } from './pool-runtime-factory.js';
import { redactUrl } from '../store/redact-url.js';
import { createPoolManager } from '../pool/create-pool-manager.js';
import { assertRedisAnswers } from './redis-start-check.js';
import { openSharedPool, type SharedPoolParts } from './shared-pool-run.js';
import { recycleOnFailover } from './failover-recycle.js';
import { openWarmPoolIfAsked } from './warm-pool-runtime.js';

/** @defaultValue 60000 ms: how long the coordinator keeps serving the final figures after the teardown. */
const FROZEN_COORDINATOR_LIFETIME_MS = 60_000;

/** The plugin's options as PoolRun takes them: `mode` absent means 'local'. */
export type PoolRunPluginOptions = Omit<PluginOptions, 'mode'> & { mode?: PluginOptions['mode'] };

export interface PoolRunOptions {
  pool: PoolConfig;
  plugin: PoolRunPluginOptions;
  /** Folder that relative paths (history file, coordinator file) are resolved against: the config's. */
  baseDir: string;
  /** Where the one-line start message and pool warnings go. @defaultValue stdout/stderr with a prefix */
  log?: (line: string) => void;
  logger?: PoolLogger;
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /** Wraps the members' health gate (local mode; a test holds one member's start). @defaultValue the HealthChecker as is */
  wrapHealth?: (gate: HealthGate) => HealthGate;
}

export interface PoolRunStopOptions {
  /** Called with the final figures before anything is closed (the reporter's snapshot file). */
  onSnapshot?: (snapshot: FinalSnapshot) => Promise<void>;
}

const PREFIX = '[cinnamon-pool]';

/**
 * One run's pool, wired: runtime and store chosen, containers started and health-gated, coordinator up.
 * `start()` undoes itself when any step fails; `stop()` drains and stops everything, runs every step even
 * when one fails, and is safe to call twice (Ctrl-C may call it while the teardown already does).
 */
export class PoolRun implements AsyncDisposable {
  /** A file (mode 600) with the coordinator's URL and token, for `cinnamon-pool status` from another shell. */
  readonly coordinatorFile: string;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly manager: ContainerPoolManager,
    readonly coordinator: RunningCoordinator,
    /** This run's container runtime; absent in shared mode (the host agents have theirs). */
    readonly runtime: ContainerRuntime | undefined,
    readonly store: PoolStore,
    private readonly history: HistoryFile | undefined,
    baseDir: string,
    /** Shared mode: the address the members' browsers open this machine's app at (appUrl). */
    readonly appHost: string | undefined,
  ) {
    this.coordinatorFile = resolve(baseDir, COORDINATOR_FILE);
  }

  static async start(options: PoolRunOptions, signal?: AbortSignal): Promise<PoolRun> {
    const env = options.env ?? process.env;
    const clock = options.clock ?? new SystemClock();
    const log = options.log ?? ((line: string) => process.stdout.write(`${PREFIX} ${line}\n`));
    const logger = options.logger ?? stderrLogger();
    const { plugin } = options;
    const cleanups: Array<() => Promise<unknown>> = [];
    const undo = async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    };
    try {
      const t0 = clock.monotonic();
      const members =
        plugin.mode === 'shared'
          ? await startShared(options, clock, logger, log, cleanups, signal)
          : await startLocal(options, env, clock, logger, log, cleanups, signal);
      abortIfAsked(signal);

      const coordinator = await startCoordinator({
        manager: members.manager,
        runtime: members.runtimeKind,
        containers: members.containers,
        clock: members.clock,
        logger,
        ...(members.history ? { onExecutionRecorded: (testId: string) => members.history!.noteRecorded(testId) } : {}),
      });
      cleanups.push(() => coordinator.close());
      const run = new PoolRun(members.manager, coordinator, members.runtime, members.store, members.history, options.baseDir, members.appHost);
      await run.writeCoordinatorFile().catch((e: unknown) => logger.warn(`cannot write ${run.coordinatorFile}: ${String(e)}`));
      const ready = members.ready?.() ?? members.containers;
      const what =
        plugin.mode === 'shared'
          ? `${members.containers} container(s) served by host agents`
          : ready < members.containers
            ? `${ready} of ${members.containers} containers ready`
            : `${members.containers} container(s) ready`;
      const rest = ready < members.containers ? ' (the rest join as they pass their gate)' : '';
      log(
        `${what} in ${((clock.monotonic() - t0) / 1000).toFixed(1)} s${rest}; coordinator ${coordinator.url} ` +
          `(URL and token for \`cinnamon-pool status\`: ${run.coordinatorFile})`,
      );
      members.announced?.();
      return run;
    } catch (error) {
      await undo();
      throw error;
    }
  }

  /**
   * Drains the queue (waiters fail with POOL_SHUT_DOWN), waits for cleanups, stops every container, hands
   * the final figures to `onSnapshot`, keeps serving them read-only from the coordinator, saves the history
   * and closes the store.
   */
  stop(options: PoolRunStopOptions = {}): Promise<void> {
    this.stopping ??= this.doStop(options);
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async doStop(options: PoolRunStopOptions): Promise<void> {
    const failures: unknown[] = [];
    const step = async (what: string, work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        failures.push(new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      }
    };
    await step('stop the pool', () => this.manager.shutdown());
    let snapshot: FinalSnapshot | undefined;
    await step('collect the final analytics', async () => {
      const [status, analytics, audit] = await Promise.all([this.manager.getPoolStatus(), this.manager.getSystemAnalytics(), this.manager.getAuditLog()]);
      snapshot = { status, analytics, audit };
    });
    if (snapshot) {
      const final = snapshot;
      if (options.onSnapshot) await step('hand over the final analytics', () => options.onSnapshot!(final));
      // Reporters asking the coordinator at onEnd (after this teardown) still get the figures; the process
      // may exit under it.
      this.coordinator.freeze(final);
      this.coordinator.unref();
      // A runner that lives on (UI and watch mode run globalSetup per run) must not collect frozen servers.
      setTimeout(() => void this.coordinator.close(), FROZEN_COORDINATOR_LIFETIME_MS).unref();
    } else {
      await step('close the coordinator', () => this.coordinator.close());
    }
    if (this.history) await step(`save ${this.history.path}`, () => this.history!.save());
    await step('close the store', () => this.store.close());
    await step('remove the coordinator file', () => rm(this.coordinatorFile, { force: true }));
    if (failures.length) {
      throw new PoolError('RUNTIME_ERROR', `The container pool did not stop cleanly:\n${failures.map((f) => `  - ${(f as Error).message}`).join('\n')}`, {}, { cause: failures[0] });
    }
  }

  private async writeCoordinatorFile(): Promise<void> {
    await mkdir(dirname(this.coordinatorFile), { recursive: true });
    const body: CoordinatorFileBody = { url: this.coordinator.url, token: this.coordinator.token, pid: process.pid, runId: this.manager.runId, startedAt: new Date().toISOString() };
    await writeFile(this.coordinatorFile, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
    await chmod(this.coordinatorFile, 0o600);
  }
}

/** What either start hands the coordinator. */
interface StartedMembers {
  manager: ContainerPoolManager;
  store: PoolStore;
  clock: Clock;
  runtime: ContainerRuntime | undefined;
  runtimeKind: RuntimeKind;
  history?: HistoryFile;
  containers: number;
  appHost?: string;
  /** Members serving now (local: the rest join after the start); absent: all of them. */
  ready?: () => number;
  /** The start line is out: members joining from now on get a line each. */
  announced?: () => void;
}

/** One machine: pick the runtime and store, start and gate this run's own containers. */
async function startLocal(
  options: PoolRunOptions,
  env: NodeJS.ProcessEnv,
  clock: Clock,
  logger: PoolLogger,
  log: (line: string) => void,
  cleanups: Array<() => Promise<unknown>>,
  signal: AbortSignal | undefined,
): Promise<StartedMembers> {
  const { pool, plugin } = options;
  // The joined lines count from here, as the start line does (not from the members' own start).
  const t0 = clock.monotonic();
  const plan = await planRuntime(plugin.runtime, { env, ...(plugin.dockerImage ? { dockerImage: plugin.dockerImage } : {}) });
  const { store, storeReason, history } = await openStore(pool, plugin, options.baseDir, clock);
  cleanups.push(() => store.close());
  const historyNote = history ? await loadHistory(history, logger) : '';
  log(`runtime: ${plan.decision.kind} (${plan.decision.reason.replace(/^\w+: /, '')}); store: ${store.kind} (${storeReason}${historyNote})`);
  abortIfAsked(signal);

  const warm = await openWarmPoolIfAsked({ reuse: plugin.reuse, reuseIdleMs: plugin.reuseIdleMs, runtimeKind: plan.decision.kind, ...(plan.image ? { image: plan.image } : {}), pool, env, clock, log });
  const runtime = warm ?? createRuntime(plan, clock, pool.mcpServer);
  cleanups.push(() => runtime.close());
  if (runtime.limitations.length) logger.info(`${runtime.kind} runtime limits not enforced: ${runtime.limitations.join('; ')}`);
  const manager = createPoolManager({
    config: pool,
    runtime,
    store,
    clock,
    logger,
    // A warm pool's members must be left clean for the next run; any other run removes them at its end.
    cleanupsAtShutdown: warm ? 'finish' : 'abandon',
    ...(options.wrapHealth ? { wrapHealth: options.wrapHealth } : {}),
  });
  cleanups.push(() => manager.shutdown());
  // Only a pool that served keeps its members warm; a failed start stops them like any other.
  if (warm) manager.on('poolStopped', ({ available }) => warm.keepMembers(available));
  if (store instanceof RedisPoolStore) recycleOnFailover(store, manager, logger);
  // Ctrl-C during start: stop the runtime at once, so initialize() fails fast instead of finishing.
  const onAbort = () => void runtime.close().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  // Tests may start once one member passed its gate; the others join as they pass theirs (a member that
  // fails later is reported and recovered by the pool, never handed out).
  const joins = { ready: 0, announced: false };
  manager.on('memberJoined', ({ name, ready, total }) => {
    joins.ready = Math.max(joins.ready, ready);
    if (joins.announced) log(`${name} joined: ${ready} of ${total} containers ready (${((clock.monotonic() - t0) / 1000).toFixed(1)} s after the start)`);
  });
  let ready: number;
  try {
    ready = await manager.initialize({ serveFrom: 'first' });
  } catch (error) {
    throw startFailure(error, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return {
    manager,
    store,
    clock,
    runtime,
    runtimeKind: runtime.kind,
    ...(history ? { history } : {}),
    containers: pool.containers,
    ready: () => Math.max(ready, joins.ready),
    announced: () => {
      joins.announced = true;
    },
  };
}

/** A shard of a shared pool: no runtime, no containers; the host agents' members through RemoteHosts. */
async function startShared(
  options: PoolRunOptions,
  clock: Clock,
  logger: PoolLogger,
  log: (line: string) => void,
  cleanups: Array<() => Promise<unknown>>,
  signal: AbortSignal | undefined,
): Promise<StartedMembers> {
  let parts: SharedPoolParts;
  try {
    parts = await openSharedPool({ pool: options.pool, plugin: options.plugin, clock, logger, onCleanup: (c) => cleanups.push(c) });
  } catch (error) {
    throw startFailure(error, signal);
  }
  log(parts.line);
  return { manager: parts.manager, store: parts.store, clock: parts.clock, runtime: undefined, runtimeKind: parts.runtime, containers: parts.members, appHost: parts.appHost };
}

async function openStore(pool: PoolConfig, plugin: PoolRunPluginOptions, baseDir: string, clock: Clock): Promise<{ store: PoolStore; storeReason: string; history?: HistoryFile }> {
  if (!plugin.redisUrl) {
    const store = new MemoryPoolStore();
    const path = resolve(baseDir, plugin.historyFile ?? DEFAULT_HISTORY_FILE);
    return { store, storeReason: `no redisUrl; timeout history in ${path}`, history: new HistoryFile(path, store, pool.timeouts.historyLimit) };
  }
  const keyPrefix = plugin.redisKeyPrefix ?? `cinnamon-pool:${pool.poolId}`;
  const where = redactUrl(plugin.redisUrl);
  const store = new RedisPoolStore({ redis: plugin.redisUrl, keyPrefix });
  try {
    await assertRedisAnswers(store, where, clock, false);
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return { store, storeReason: `redisUrl ${where}, key prefix '${keyPrefix}'` };
}

async function loadHistory(history: HistoryFile, logger: PoolLogger): Promise<string> {
  const loaded = await history.load();
  if (loaded.problem) logger.warn(`timeout history: ${loaded.problem}`);
  return loaded.tests ? `, ${loaded.samples} durations of ${loaded.tests} tests loaded` : '';
}

/** The start failure as the run should print it: what failed (container, stage, fix come from the pool). */
function startFailure(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return new PoolError('POOL_SHUT_DOWN', 'The container pool start was interrupted; everything started was stopped.', {}, { cause: error });
  if (isPoolError(error)) {
    return new PoolError(error.code, `The container pool could not start; everything started was stopped.\n${error.message}`, { ...error.data }, { cause: error });
  }
  return error;
}

function abortIfAsked(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PoolError('POOL_SHUT_DOWN', 'The container pool start was interrupted; everything started was stopped.');
}


function stderrLogger(): PoolLogger {
  return {
    info: () => {},
    warn: (m) => process.stderr.write(`${PREFIX} ${m}\n`),
    error: (m) => process.stderr.write(`${PREFIX} ${m}\n`),
  };
}
