import { z } from 'zod';
import { PoolError } from '../errors/pool-error.js';
import { postToGuard, type GuardTarget } from './guard-call.js';
import { resetPath } from './mcp-guard.js';

/** What a member's guard answers to a soft reset (docker/image/guard-sessions.cjs). */
const sessionResetSchema = z.object({
  member: z.string(),
  /** Sessions the server ended on the guard's DELETE (each took its browser context with it). */
  ended: z.number().int().nonnegative(),
  /** Sessions the guard knew of that the server had already ended (their client went, a ping timed out). */
  gone: z.number().int().nonnegative(),
  /** Sessions whose DELETE failed: they may still run. */
  failed: z.number().int().nonnegative(),
  /** The guard's own keeper session held the browser while the others ended, so it kept running. */
  keeperAttached: z.boolean(),
  /** Why the keeper could not be attached before the others ended (the browser then closed with them). */
  keeper: z.string().optional(),
  /** Why the server does not answer HTTP (looked at only when no session answered a DELETE). */
  down: z.string().optional(),
});
export type MemberSessionReset = z.infer<typeof sessionResetSchema>;

/** The soft reset call as the reset manager depends on it ({@link endMemberSessions}; unit tests inject a fake). */
export type MemberSessionEnder = (target: GuardTarget, timeoutMs: number) => Promise<MemberSessionReset>;

/**
 * Asks a member's guard to end every MCP session on its server (each a browser context: pages, cookies, storage,
 * routes) while the guard's keeper session keeps the browser running. Resolves once every session is ended and
 * the server answered; throws RUNTIME_ERROR naming the member when the guard cannot be reached, refuses, a
 * session could not be ended or the server does not answer (the reset manager escalates to medium then).
 */
export async function endMemberSessions(target: GuardTarget, timeoutMs: number): Promise<MemberSessionReset> {
  const fail = (problem: string, cause?: unknown) =>
    new PoolError(
      'RUNTIME_ERROR',
      `Soft reset of container ${target.containerId} (port ${target.port}) through its guard failed: ${problem}. Fix: the member's guard must answer on 127.0.0.1:${target.port}; the pool escalates to a medium reset.`,
      { containerId: target.containerId, operation: 'reset', problem },
      cause === undefined ? undefined : { cause },
    );
  let answer: { status: number; text: string };
  try {
    answer = await postToGuard(target, resetPath(), {}, timeoutMs);
  } catch (error) {
    throw fail(error instanceof Error ? error.message : String(error), error);
  }
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    throw fail(`the guard answered HTTP ${answer.status}: ${answer.text.trim().slice(0, 300)}`);
  }
  const parsed = sessionResetSchema.safeParse(json);
  if (!parsed.success) throw fail(`the guard's answer (HTTP ${answer.status}) is not a reset result: ${answer.text.slice(0, 300)}`);
  const result = parsed.data;
  if (answer.status !== 200 || result.failed > 0 || result.down !== undefined) {
    const why = [result.failed > 0 ? `${result.failed} session(s) could not be ended` : '', result.down ?? ''].filter((w) => w !== '').join('; ');
    throw fail(why || `the guard answered HTTP ${answer.status}`);
  }
  return result;
}
