import { PoolError } from '../errors/pool-error.js';
import { postToGuard, type GuardTarget } from './guard-call.js';
import { fencePath } from './mcp-guard.js';

/** @defaultValue 10000 ms: the fence ends the old holder's MCP sessions on the server, each a browser context. */
export const DEFAULT_FENCE_TIMEOUT_MS = 10_000;

export interface FenceResult {
  /** The member's floor now: the lowest lease token its guard admits. */
  floor: number;
  /** Connections of older leases closed, MCP sessions of older leases ended on the server. */
  cut: { connections: number; sessions: number; sessionsNotEnded: number };
}

/** The fence call as the pool depends on it ({@link fenceMember}; unit tests inject a fake). */
export type MemberFence = (target: FenceTarget, floor: number) => Promise<FenceResult>;

export type FenceTarget = GuardTarget;

/**
 * Tells a member's guard that every lease below `floor` is over: from now on it admits only tokens from `floor`,
 * closes the older holders' connections and ends their MCP sessions on the server. Resolves once done; throws
 * RUNTIME_ERROR naming the member when the guard cannot be reached or refuses. A plain connection that is closed
 * afterwards: an idle keep-alive socket would look like an open session to cleanup.
 */
export async function fenceMember(target: FenceTarget, floor: number, timeoutMs: number = DEFAULT_FENCE_TIMEOUT_MS): Promise<FenceResult> {
  const fail = (problem: string, cause?: unknown) =>
    new PoolError(
      'RUNTIME_ERROR',
      `Fence of container ${target.containerId} (port ${target.port}) failed: ${problem}. Fix: the member's guard must answer on 127.0.0.1:${target.port}; the pool resets the member and fences it again.`,
      { containerId: target.containerId, operation: 'fence', floor },
      cause === undefined ? undefined : { cause },
    );
  let answer: { status: number; text: string };
  try {
    answer = await postToGuard(target, fencePath(), { floor }, timeoutMs);
  } catch (error) {
    throw fail(error instanceof Error ? error.message : String(error), error);
  }
  if (answer.status !== 200) throw fail(`the guard answered HTTP ${answer.status}: ${answer.text.trim()}`);
  try {
    return JSON.parse(answer.text) as FenceResult;
  } catch (error) {
    throw fail(`the guard's answer is not JSON: ${answer.text.slice(0, 200)}`, error);
  }
}
