import type { CleanupLevel, ResetResult } from '../cleanup/cleanup-types.js';
import type { TraceFile } from '../cleanup/trace-files.js';
import type { PoolConfig } from '../config/pool-config.js';
import type { ResetStrategy } from '../config/schemas.js';
import type { Clock } from '../clock/clock.js';
import type { ContainerState } from '../domain/container-state.js';
import type { RunContext } from '../runtime/container-runtime.js';
import type { Lease, PoolStore } from '../store/pool-store.js';
import type { EmitPoolEvent, PoolLogger, ReportError } from './pool-events.js';
import type { ServeFrom } from './start-policy.js';

/** How a host brings its members up. */
export interface HostStartOptions {
  /** When start() resolves: once every member passed its gate, or the first one (start-policy.ts). @defaultValue 'all' */
  serveFrom?: ServeFrom;
}

/** Where a holder reaches a member. */
export interface MemberEndpoint {
  id: string;
  name: string;
  port: number;
  /** The MCP endpoint: `http://<address>:<port>/mcp`. */
  url: string;
}

/**
 * What the allocator needs of the containers it hands out: on one machine the ContainerKeeper in the same
 * process; in a shared pool (issue 11) the host agents, reached through the store and their control endpoints.
 */
export interface ContainerHost {
  /** Cleans a container whose lease ended (it is Cleaning) and returns it to the pool; resolves with where it ended up. */
  recycle(containerId: string): Promise<ContainerState>;
  /** Resets a leased container in place (its holder keeps it). `holder`: audited as the actor; omit for the pool's own reset on allocation. */
  resetLeased(lease: Lease, strategy: ResetStrategy, holder?: string): Promise<ResetResult>;
  /** The credential the holder of `lease` sends to its member's guard (the only one it admits for that lease). */
  leaseCredential(lease: Lease): string;
  /** Reads the files of a trace recorded in the container (src/cleanup/trace-files.ts). */
  readTrace(containerId: string, traceName: string, budgetMs: number): Promise<TraceFile[]>;
  /** True while cleanup, reset or recovery of the container runs on its host. */
  isBusy(containerId: string): boolean;
  /**
   * Where the holder of a lease on `containerId` connects. `lease`, when given, is the lease just granted: a host
   * may take the member's place from it (Lease.member) instead of reading the store.
   */
  endpoint(containerId: string, lease?: Lease): Promise<MemberEndpoint>;
}

/** A ContainerHost with a lifecycle: what the ContainerPoolManager starts, watches and stops. */
export interface PoolHost extends ContainerHost {
  /**
   * Brings the members up (or, in a shared pool, checks that hosts serve them); resolves with how many serve.
   * With `serveFrom: 'first'` it resolves once one member serves; the others join (or are recovered) later.
   */
  start(ctx: RunContext, options?: HostStartOptions): Promise<number>;
  /** Takes over members already running whose records are in the store. */
  resume(): Promise<void>;
  /** Stops watching (first step of shutdown). */
  stopMonitor(): Promise<void>;
  /** Waits for cleanup, reset and recovery in progress. */
  settle(): Promise<void>;
  /**
   * Shutdown of a pool whose members are removed with it: cleanup, reset and recovery in progress stop at their
   * next step and no new one starts (their work would be thrown away). Absent: nothing to stand down here.
   */
  standDown?(): void;
  /** Stops what this host started; errors are collected, not thrown. */
  stopAll(errors: unknown[]): Promise<void>;
  /** Resets a container nobody holds (an operator's reset); a leased one is refused. */
  resetIdle(containerId: string, strategy: ResetStrategy): Promise<ResetResult>;
  /**
   * Called by every sweep: leases that ended because their host was lost (a shared pool reaps hosts whose
   * agents stopped renewing). The scheduler tells their holders. Absent: nothing to reap.
   */
  reapLost?(): Promise<Array<{ lease: Lease; reason: string }>>;
}

/** What the pool hands a PoolHost it builds (ContainerPoolManagerDeps.host). */
export interface PoolHostWiring {
  config: PoolConfig;
  store: PoolStore;
  clock: Clock;
  emit: EmitPoolEvent;
  report: ReportError;
  logger: PoolLogger;
  /** The pool's phase: failures are handled only while running. */
  phase: () => 'new' | 'starting' | 'running' | 'closing' | 'closed';
  /** A member became Available: run a dispatch pass. */
  onAvailable: () => void;
  /** The allocator's current cleanup level. */
  cleanupLevel: () => CleanupLevel;
}
