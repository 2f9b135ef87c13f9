import { z } from 'zod';
import { terminateProcessGroup } from './process-group.js';
import { isAlive } from './run-state-file.js';

/** An environment variable each warm guard process carries (its member's sandbox folder), so reaping finds it too. */
export const GUARD_MARKER_ENV = 'CINNAMON_QA_GUARD';

/** The run folder name a warm pool's members live under (one per pool, whichever run started them). */
export const WARM_RUN_ID = 'warm';

const identitySchema = z.object({ pid: z.number().int().positive(), startTime: z.number().int().nonnegative() }).strict();

/**
 * A member the process runtime left running for the next run (issue 13, `reuse`): its server (leading its own
 * process group), the private port the server listens on, and the guard process in front of it.
 */
export const warmMemberSchema = z
  .object({
    containerId: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    serverPort: z.number().int().min(1).max(65535),
    server: identitySchema,
    guard: identitySchema,
    sandboxDir: z.string().min(1),
  })
  .strict();
export type WarmMember = z.output<typeof warmMemberSchema>;

/** Whether the member's server and guard are both the very processes recorded (not recycled pids). */
export function warmMemberAlive(member: WarmMember): boolean {
  return isAlive(member.server) && isAlive(member.guard);
}

/**
 * Ends a warm member's guard and server (each leads its own process group); a process that is not the
 * recorded one any more (pid reused) is left alone. Returns what was ended, one line each.
 */
export async function endWarmMember(member: WarmMember, graceMs: number): Promise<string[]> {
  const ended: string[] = [];
  for (const [what, identity] of [['guard', member.guard], ['server', member.server]] as const) {
    if (!isAlive(identity)) continue;
    const result = await terminateProcessGroup(identity.pid, graceMs);
    if (result.endedBy !== 'none') ended.push(`${member.containerId} ${what} (pid ${identity.pid})`);
  }
  return ended;
}
