import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { backoffDelay } from '../../clock/backoff.js';
import type { Clock } from '../../clock/clock.js';
import { sleepOn } from '../../clock/clock-wait.js';
import { mcpGuardPath, type McpGuard } from '../mcp-guard.js';
import { probeTcpPort } from '../port-probe.js';
import { runtimeError } from '../runtime-error.js';
import { signalGroup, terminateProcessGroup } from './process-group.js';
import { identify, type ProcessIdentity } from './run-state-file.js';
import { GUARD_MARKER_ENV } from './warm-members.js';

/** How long a guard process gets to listen. Node starts in well under a second; this holds with both cores busy. */
const GUARD_LISTEN_BUDGET_MS = 15_000;
const GUARD_STOP_GRACE_MS = 1_000;

export interface GuardProcessInput {
  containerId: string;
  port: number;
  upstreamPort: number;
  host: string;
  key: string;
  allowedHosts: readonly string[];
  /** The member's sandbox folder: the guard's marker (reaping) and where its log goes. */
  sandboxDir: string;
  logPath: string;
  /** After this long without a connection, the guard ends `idlePgid` (the server's group) and exits. */
  idleMs: number;
  idlePgid: number;
  clock: Clock;
}

export interface GuardProcess extends McpGuard {
  readonly identity: ProcessIdentity;
}

/**
 * Runs docker/image/mcp-guard.cjs as a process of its own, for a member that must outlive the run (the process
 * runtime's guard is otherwise in-process and would die with the runner). Its own process group, outside the
 * server's (cleanup ends the server's descendants) and without the sandbox marker (cleanup ends marked
 * processes) but with {@link GUARD_MARKER_ENV}, so a later run's reaping and `cinnamon-pool down` find it.
 * Resolves once it listens; a guard that cannot listen is ended and the error names the member and port.
 */
export async function startGuardProcess(input: GuardProcessInput): Promise<GuardProcess> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    MCP_PORT: String(input.port),
    MCP_SERVER_PORT: String(input.upstreamPort),
    MCP_GUARD_KEY: input.key,
    MCP_GUARD_MEMBER: input.containerId,
    MCP_GUARD_BIND: input.host,
    MCP_GUARD_HOSTS: input.allowedHosts.join(','),
    MCP_GUARD_IDLE_MS: String(input.idleMs),
    MCP_GUARD_IDLE_PGID: String(input.idlePgid),
    [GUARD_MARKER_ENV]: input.sandboxDir,
  };
  const logFd = openSync(input.logPath, 'a');
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [mcpGuardPath()], { env, detached: true, stdio: ['ignore', logFd, logFd] });
    pid = await new Promise<number | undefined>((resolve) => {
      child.once('spawn', () => resolve(child.pid));
      child.once('error', () => resolve(undefined));
    });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  const fail = (problem: string) =>
    runtimeError('process', { containerId: input.containerId, stage: 'start guard', problem, fix: `Free port ${input.port}, or see ${input.logPath}.` });
  if (pid === undefined) throw fail(`could not spawn ${process.execPath} ${mcpGuardPath()}`);
  const identity = identify(pid);
  const deadline = input.clock.monotonic() + GUARD_LISTEN_BUDGET_MS;
  for (let attempt = 0; ; attempt++) {
    const alive = identity !== undefined && identify(pid)?.startTime === identity.startTime;
    if (alive && (await probeTcpPort('127.0.0.1', input.port, 500)).open) break;
    if (!alive || input.clock.monotonic() > deadline) {
      await terminateProcessGroup(pid, GUARD_STOP_GRACE_MS).catch(() => undefined);
      throw fail(alive ? `its guard did not listen on ${input.host}:${input.port} within ${GUARD_LISTEN_BUDGET_MS} ms` : `its guard exited at once (port ${input.port} taken?)`);
    }
    await sleepOn(input.clock, backoffDelay(attempt, 20, 200));
  }
  let closed: Promise<void> | undefined;
  return {
    port: input.port,
    identity: identity!,
    close: () => (closed ??= terminateProcessGroup(pid, GUARD_STOP_GRACE_MS).then(() => undefined)),
    unref: () => undefined,
  };
}

/** Last-resort end of a guard process when the host exits (synchronous). */
export function killGuardNow(guard: GuardProcess): void {
  try {
    signalGroup(guard.identity.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
