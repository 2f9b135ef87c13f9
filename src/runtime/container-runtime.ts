import type { ContainerSpec } from '../config/pool-config.js';

export type RuntimeKind = 'docker' | 'process' | 'fake';

/** Identity of a run, stamped on what a runtime creates (Docker labels, sandbox folder names). */
export interface RunContext {
  poolId: string;
  runId: string;
}

/** What starting a member needs beyond the run's identity. */
export interface StartContext extends RunContext {
  /**
   * The public key the guard of a member checks credentials with (MemberCredentials.keyOf, src/runtime/member-credentials.ts):
   * Docker passes it to the container as MCP_GUARD_KEY, the process runtime to its in-process guard.
   */
  guardKey: (memberId: string) => string;
}

export interface RuntimeContainerInfo {
  /** Pool container id (container-1). */
  id: string;
  name: string;
  port: number;
  /** Docker container id, or the process id of the MCP server. */
  runtimeId: string;
}

export interface RuntimeState {
  running: boolean;
  /** Docker HEALTHCHECK status; 'none' where the runtime has none. */
  health: 'healthy' | 'unhealthy' | 'starting' | 'none';
  exitCode?: number;
  /** Short human reason when not running ("exited with code 137 (killed by SIGKILL)", "OOM killed"). */
  reason?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RuntimeStats {
  memoryMB: number;
  cpuPercent: number;
}

export type RuntimeEvent =
  | { type: 'died'; containerId: string; at: number; reason: string }
  | { type: 'oom'; containerId: string; at: number }
  | { type: 'started'; containerId: string; at: number };

/**
 * Set in the environment of every MCP server and of everything it starts (its Chromium, exec'd commands), to a
 * value naming the member's sandbox (Docker: the container name; process: the sandbox folder). Cleanup finds a
 * holder's re-parented processes by it (MCP_SANDBOX below), and process-runtime reaping finds leftovers by it,
 * so a recycled pid of an unrelated program is never signalled.
 */
export const SANDBOX_MARKER_ENV = 'CINNAMON_QA_SANDBOX';

/** @defaultValue 30000 ms: the budget of one exec() when the call names none (both runtimes). */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

/** Output kept per stream of one exec(); more is cut and the stream says so (cleanup scripts print little). */
export const EXEC_OUTPUT_LIMIT_BYTES = 1024 * 1024;

/**
 * Where pool containers run. Implementations: DockerRuntime (dockerode), ProcessRuntime (local
 * `@playwright/mcp` child processes), and a fake for unit tests. Every method names the container by its pool
 * id; errors are PoolError RUNTIME_ERROR naming the container and the operation.
 */
export interface ContainerRuntime {
  readonly kind: RuntimeKind;
  /** What this runtime cannot enforce (e.g. "no memory limit"), printed once at start. */
  readonly limitations: readonly string[];
  /** Removes what a crashed earlier run of this pool left behind; returns what was removed. */
  reapLeftovers(ctx: RunContext): Promise<string[]>;
  start(spec: ContainerSpec, ctx: StartContext): Promise<RuntimeContainerInfo>;
  /** Safe to call twice and for an unknown id. */
  stop(id: string): Promise<void>;
  /** Restarts the same container (hard reset). */
  restart(id: string): Promise<void>;
  /** Removes and creates the container anew from its spec (recovery). */
  recreate(id: string): Promise<RuntimeContainerInfo>;
  inspect(id: string): Promise<RuntimeState>;
  /**
   * Runs argv inside the container (budget: `timeoutMs`, default {@link DEFAULT_EXEC_TIMEOUT_MS}; output capped
   * at {@link EXEC_OUTPUT_LIMIT_BYTES} per stream; Docker: `docker exec`; process runtime: a child process on the host in
   * the sandbox). Both runtimes give the command the same environment contract, so cleanup scripts are
   * runtime-agnostic: a POSIX `sh`, `ps` (procps), `find`, `grep` (GNU, for -z), and the variables
   *   MCP_HOME        the MCP server's HOME (browser profiles and caches live under it)
   *   MCP_TMPDIR      its TMPDIR (Docker: /tmp)
   *   MCP_WORKDIR     its working directory (holds `.playwright-mcp/` output), restored by resetEnvironment
   *   MCP_SERVER_PID  the MCP server's pid as the command sees it (Chromium processes are its descendants)
   *   MCP_PORT        the port the server listens on inside (Docker) or on 127.0.0.1 (process)
   *   MCP_SANDBOX     the value of this member's sandbox marker {@link SANDBOX_MARKER_ENV} (Docker: the container
   *                   name; process: the sandbox folder), which the server, everything it starts and every
   *                   exec'd command inherit: cleanup finds a holder's re-parented processes by it
   * and, optionally (Docker sets them, the process runtime does not: on the host unmarked processes are
   * other people's):
   *   MCP_SANDBOX_SCOPE  'container' when every process the command can see belongs to this sandbox, so a
   *                   process without any marker is a holder's that cleared its environment
   *   MCP_GUARD_PID   with it, the one unmarked process that is not a holder's (the Origin/Host guard)
   * The working directory of the command is MCP_WORKDIR.
   */
  exec(id: string, argv: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult>;
  stats(id: string): Promise<RuntimeStats>;
  /** Subscribes to lifecycle events (a death is reported within a second). Returns the unsubscribe. */
  onEvent(listener: (event: RuntimeEvent) => void): () => void;
  /** Stops every container this runtime started and releases its resources. Safe to call twice. */
  close(): Promise<void>;
}
