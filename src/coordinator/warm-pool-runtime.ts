import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../clock/clock.js';
import { CleanupService } from '../cleanup/cleanup-service.js';
import type { CleanupResult, ContainerCleaner } from '../cleanup/cleanup-types.js';
import type { PoolConfig } from '../config/pool-config.js';
import type {
  ContainerRuntime,
  ExecResult,
  RunContext,
  RuntimeContainerInfo,
  RuntimeEvent,
  RuntimeState,
  RuntimeStats,
  StartContext,
} from '../runtime/container-runtime.js';
import type Docker from 'dockerode';
import { DockerRuntime } from '../runtime/docker/docker-runtime.js';
import { packageRoot } from '../runtime/package-root.js';
import { ProcessRuntime } from '../runtime/process/process-runtime.js';
import { DEFAULT_SANDBOX_ROOT, poolDir } from '../runtime/process/sandbox-layout.js';
import { WARM_RUN_ID } from '../runtime/process/warm-members.js';
import { planAdoption, type AdoptionPlan } from './warm-pool-adoption.js';
import { anyWarmMemberAlive, endAnyWarmMember, isDockerWarmMember, warmDockerClient, type AnyWarmMember } from './warm-pool-members.js';
import { fingerprintOf, fingerprintParts, type FingerprintParts } from './warm-pool-fingerprint.js';
import { acquireWarmLock, type HeldLock } from './warm-pool-lock.js';
import { DEFAULT_REUSE_IDLE_MS, resolveReuse, REUSE_ENV_VAR } from './warm-pool-options.js';
import { readWarmState, removeWarmState, warmLockPath, warmStatePath, writeWarmState } from './warm-pool-state.js';

export interface WarmPoolOptions {
  pool: PoolConfig;
  clock: Clock;
  log: (line: string) => void;
  idleMs: number;
  /** The runtime the members run on; 'docker' needs `image`. */
  runtimeKind: 'process' | 'docker';
  /** The pool image (Docker runtime): part of the fingerprint. */
  image?: string;
  /** Sandbox root of the process runtime. @defaultValue DEFAULT_SANDBOX_ROOT */
  sandboxRoot?: string;
  /** Builds the cleaner for adopted members (the cleanup between holders), given the inner runtime. */
  cleaner: (runtime: ContainerRuntime) => ContainerCleaner;
}

/**
 * Opens a warm pool for this run (issue 13, option `reuse`): takes its lock (WARM_POOL_BUSY when a live run
 * holds it; a dead run's lock is taken over), reads what the last run left, and returns the runtime to run the
 * pool on (the process or the Docker runtime).
 */
export async function openWarmPool(options: WarmPoolOptions): Promise<WarmPoolRuntime> {
  const root = options.sandboxRoot ?? DEFAULT_SANDBOX_ROOT;
  const { poolId } = options.pool;
  await mkdir(poolDir(root, poolId), { recursive: true, mode: 0o700 });
  const lock = await acquireWarmLock(warmLockPath(root, poolId), poolId);
  try {
    if (lock.tookOverFrom) {
      options.log(`warm pool: took the lock over from a run that ended without releasing it (${lock.tookOverFrom === 'unreadable' ? 'unreadable lock' : `pid ${lock.tookOverFrom.pid}`})`);
    }
    const { runtimeKind, image } = options;
    if (runtimeKind === 'docker' && !image) throw new Error('Internal: a Docker warm pool without an image.');
    const parts = fingerprintParts({
      runtime: runtimeKind,
      poolId,
      members: options.pool.containerSpecs.map((s) => ({ id: s.id, name: s.name, port: s.port, limits: { memoryMB: s.memoryMB, cpuPercent: s.cpuPercent } })),
      mcpServer: options.pool.mcpServer,
      packageVersion: packageVersion(),
      node: `${process.execPath} ${process.version}`,
      idleMs: options.idleMs,
      ...(image ? { image } : {}),
    });
    let client: Docker | undefined;
    const docker = () => (client ??= warmDockerClient());
    const state = await readWarmState(warmStatePath(root, poolId));
    const alive = new Set<string>();
    if (state && state !== 'unreadable') for (const m of state.members) if (await anyWarmMemberAlive(m, docker)) alive.add(m.containerId);
    const plan = planAdoption<AnyWarmMember>(
      state,
      { fingerprint: fingerprintOf(parts), parts, memberIds: options.pool.containerSpecs.map((s) => s.id) },
      (m) => alive.has(m.containerId),
    );
    const webmcp = options.pool.mcpServer.webmcp;
    const inner =
      runtimeKind === 'docker'
        ? new DockerRuntime({ image: image ?? '', clock: options.clock, webmcp, warmIdleMs: options.idleMs, docker: docker() })
        : new ProcessRuntime({ clock: options.clock, webmcp, rootDir: root, warmIdleMs: options.idleMs });
    return new WarmPoolRuntime(inner, { ...options, root, lock, parts, plan, docker });
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}

interface WarmPoolParts extends WarmPoolOptions {
  root: string;
  lock: HeldLock;
  parts: FingerprintParts;
  plan: AdoptionPlan<AnyWarmMember>;
  docker: () => Docker;
}

/**
 * The runtime of a warm pool (process or Docker). At start it takes over the last run's members (reapLeftovers, before the
 * reaping, so they are not reaped) and cleans each with the cleanup between holders before the pool gates it;
 * members it cannot take over start as usual. Once the pool stopped serving (keepMembers()), stop() leaves
 * members running and close() detaches them and writes the state the next run adopts from. Before that (a
 * failed start) it stops them like any runtime.
 */
export class WarmPoolRuntime implements ContainerRuntime {
  readonly kind: ContainerRuntime['kind'];
  private keeping = false;
  private available: ReadonlySet<string> = new Set();
  private readonly adopted = new Set<string>();
  private readonly cleanings: CleanupResult[] = [];
  private readonly cleaner: ContainerCleaner;
  private closing: Promise<void> | undefined;
  private readonly started = new Set<string>();
  private announced = false;

  constructor(
    private readonly inner: ProcessRuntime | DockerRuntime,
    private readonly parts: WarmPoolParts,
  ) {
    this.kind = inner.kind;
    this.cleaner = parts.cleaner(inner);
  }

  get limitations(): readonly string[] {
    return this.inner.limitations;
  }

  /**
   * The pool served and now stops: from here its members are kept for the next run. `available`: the members
   * Available at the stop (cleaned after their last holder); the next run takes them over without cleaning them.
   */
  keepMembers(available: readonly string[]): void {
    this.keeping = true;
    this.available = new Set(available);
  }

  /** The start's line for the log: how many members were reused and what cleaning them took, or why none. */
  summary(): string {
    if (!this.adopted.size) return this.parts.plan.note;
    const seconds = (Math.max(0, ...this.cleanings.map((c) => c.durationMs)) / 1000).toFixed(1);
    const leftClean = this.adopted.size - this.cleanings.length;
    const how = !leftClean
      ? `cleaned in ${seconds} s`
      : !this.cleanings.length
        ? 'left clean by the last run: not cleaned again'
        : `${leftClean} left clean by the last run, ${this.cleanings.length} cleaned in ${seconds} s`;
    return `${this.adopted.size} warm container(s) reused (${how})${this.parts.plan.note.includes(';') ? `; ${this.parts.plan.note.split('; ').slice(1).join('; ')}` : ''}`;
  }

  async reapLeftovers(ctx: RunContext): Promise<string[]> {
    const { plan, log, docker } = this.parts;
    log(`warm pool: ${plan.note}`);
    const ended: string[] = [];
    // The gone ones too: an exited container (idle stop) would hold its member's name.
    for (const member of [...plan.discard, ...plan.gone]) ended.push(...(await endAnyWarmMember(member, docker)));
    if (ended.length) log(`warm pool: stopped ${ended.join(', ')}`);
    if (!plan.adopt.size) return this.inner.reapLeftovers(ctx);
    // The reaping would otherwise take the members about to be taken over for a crashed run's (their owner has
    // exited): the process runtime claims their run folder first, the Docker reaping spares the warm run's label.
    if (this.inner instanceof DockerRuntime) return this.inner.reapLeftovers({ ...ctx, runId: WARM_RUN_ID });
    await this.inner.claimRun({ poolId: ctx.poolId, runId: WARM_RUN_ID });
    return this.inner.reapLeftovers(ctx);
  }

  /**
   * Starts (or takes over) one member; once every member of the pool has been through here, the log says how
   * many were reused (members may join after the pool already serves).
   */
  async start(spec: PoolConfig['containerSpecs'][number], ctx: StartContext): Promise<RuntimeContainerInfo> {
    try {
      return await this.startOne(spec, ctx);
    } finally {
      this.started.add(spec.id);
      // Without any member taken over, the plan's note (logged at reaping) already said why.
      if (this.started.size === this.parts.pool.containerSpecs.length && !this.announced && this.adopted.size) {
        this.announced = true;
        this.parts.log(`warm pool: ${this.summary()}`);
      }
    }
  }

  private async startOne(spec: PoolConfig['containerSpecs'][number], ctx: StartContext): Promise<RuntimeContainerInfo> {
    const warmCtx: StartContext = { ...ctx, runId: WARM_RUN_ID };
    const warm = this.parts.plan.adopt.get(spec.id);
    if (warm) {
      this.parts.plan.adopt.delete(spec.id);
      try {
        const info = await this.adoptOne(spec, warmCtx, warm);
        // Cleaned after its last holder and unreachable since (its guard held a key only that run had): as fit
        // for a holder as an Available member within a run. The pool's gate still checks it.
        if (this.parts.plan.clean.has(spec.id)) {
          this.adopted.add(spec.id);
          return info;
        }
        const cleaned = await this.cleaner.cleanup(spec.id, 'full');
        if (cleaned.success) {
          this.adopted.add(spec.id);
          this.cleanings.push(cleaned);
          return info;
        }
        const failed = cleaned.stages.filter((s) => !s.success).map((s) => `${s.stage}: ${s.error ?? 'failed'}`);
        this.parts.log(`warm pool: ${spec.id} not reused: cleaning it failed (${failed.join('; ')}); starting it anew`);
      } catch (error) {
        this.parts.log(`warm pool: ${spec.id} not reused: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}; starting it anew`);
      }
      await this.inner.stop(spec.id).catch(() => undefined);
      await endAnyWarmMember(isDockerWarmMember(warm) ? { ...warm, network: '' } : warm, this.parts.docker).catch(() => undefined);
    }
    return this.inner.start(spec, warmCtx);
  }

  private adoptOne(spec: PoolConfig['containerSpecs'][number], ctx: StartContext, warm: AnyWarmMember): Promise<RuntimeContainerInfo> {
    if (this.inner instanceof DockerRuntime) {
      if (!isDockerWarmMember(warm)) throw new Error(`${spec.id} was left by the process runtime`);
      return this.inner.adopt(spec, ctx, warm);
    }
    if (isDockerWarmMember(warm)) throw new Error(`${spec.id} was left by the Docker runtime`);
    return this.inner.adopt(spec, ctx, warm);
  }

  stop(id: string): Promise<void> {
    return this.keeping ? Promise.resolve() : this.inner.stop(id);
  }

  restart(id: string): Promise<void> {
    return this.inner.restart(id);
  }

  recreate(id: string): Promise<RuntimeContainerInfo> {
    return this.inner.recreate(id);
  }

  inspect(id: string): Promise<RuntimeState> {
    return this.inner.inspect(id);
  }

  exec(id: string, argv: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult> {
    return this.inner.exec(id, argv, options);
  }

  stats(id: string): Promise<RuntimeStats> {
    return this.inner.stats(id);
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    return this.inner.onEvent(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    const { root, pool, lock, log, idleMs } = this.parts;
    const statePath = warmStatePath(root, pool.poolId);
    try {
      if (!this.keeping) {
        await this.inner.close();
        await removeWarmState(statePath);
        return;
      }
      const common = {
        version: 1 as const,
        poolId: pool.poolId,
        fingerprint: fingerprintOf(this.parts.parts),
        parts: { ...this.parts.parts },
        savedAt: new Date(this.parts.clock.now()).toISOString(),
        leftBy: process.pid,
        idleMs,
      };
      const state = this.inner instanceof DockerRuntime
        ? { ...common, runtime: 'docker' as const, members: await this.inner.detach() }
        : { ...common, runtime: 'process' as const, members: await this.inner.detach() };
      const { members } = state;
      if (!members.length) {
        await removeWarmState(statePath);
        log('warm pool: no member left running to keep');
        return;
      }
      await writeWarmState(statePath, { ...state, clean: members.map((m) => m.containerId).filter((id) => this.available.has(id)) });
      log(
        `warm pool: ${members.length} container(s) left running for the next run (they stop after ${Math.round(idleMs / 60_000)} min idle; ` +
          '`npx cinnamon-pool down` stops them now)',
      );
    } finally {
      await lock.release();
    }
  }
}

let version: string | undefined;
function packageVersion(): string {
  version ??= String((JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  return version;
}

export interface WarmStartInput {
  reuse: boolean | undefined;
  reuseIdleMs: number | undefined;
  runtimeKind: string;
  /** The pool image when the runtime is Docker. */
  image?: string;
  pool: PoolConfig;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  log: (line: string) => void;
}

/**
 * The warm pool this run asked for (option `reuse` / CINNAMON_POOL_REUSE, see resolveReuse), or undefined:
 * reuse off, or a runtime that keeps no warm members (said in the log, the run goes on cold).
 */
export async function openWarmPoolIfAsked(input: WarmStartInput): Promise<WarmPoolRuntime | undefined> {
  const decision = resolveReuse(input.reuse, input.env);
  if (!decision.on) {
    if (input.reuse || input.env[REUSE_ENV_VAR]) input.log(`warm pool: off (${decision.why})`);
    return undefined;
  }
  const { pool, clock, runtimeKind } = input;
  if (runtimeKind !== 'process' && runtimeKind !== 'docker') {
    input.log(`warm pool: off (${decision.why}, but the ${runtimeKind} runtime keeps no warm members: use runtime 'process' or 'docker' to reuse them)`);
    return undefined;
  }
  return openWarmPool({
    pool,
    clock,
    runtimeKind,
    ...(input.image ? { image: input.image } : {}),
    log: input.log,
    idleMs: input.reuseIdleMs ?? DEFAULT_REUSE_IDLE_MS,
    cleaner: (runtime) => new CleanupService({ runtime, clock, stageTimeoutMs: pool.cleanup.stageTimeoutMs }),
  });
}
