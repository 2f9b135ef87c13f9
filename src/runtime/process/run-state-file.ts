import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { readProcEntry } from '../proc-table.js';

/** A process named so that a recycled pid does not pass for it: pid plus its start time in ticks after boot. */
const processIdentitySchema = z.object({ pid: z.number().int().positive(), startTime: z.number().int().nonnegative() });
export type ProcessIdentity = z.output<typeof processIdentitySchema>;

const memberRecordSchema = processIdentitySchema.extend({
  containerId: z.string(),
  /** The server leads its own process group: pgid === pid. */
  pgid: z.number().int().positive(),
  port: z.number().int(),
  sandboxDir: z.string(),
});
export type MemberRecord = z.output<typeof memberRecordSchema>;

const runStateSchema = z.object({
  version: z.literal(1),
  poolId: z.string(),
  runId: z.string(),
  /** The process that ran the pool: while it lives, the run is not a leftover. */
  owner: processIdentitySchema,
  members: z.record(z.string(), memberRecordSchema),
});
export type RunState = z.output<typeof runStateSchema>;

/** The state of a run folder; undefined when missing or unreadable (a crash can leave half a file). */
export async function readRunState(path: string): Promise<RunState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = runStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Writes via a temporary file and rename, so a crash mid-write never leaves a torn file. */
export async function writeRunState(path: string, state: RunState): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temporary, path);
}

export function identify(pid: number): ProcessIdentity | undefined {
  const entry = readProcEntry(pid);
  return entry ? { pid, startTime: entry.startTime } : undefined;
}

/** True when that very process (not a later one with a recycled pid) still runs. */
export function isAlive(identity: ProcessIdentity): boolean {
  const entry = readProcEntry(identity.pid);
  return entry !== undefined && entry.state !== 'Z' && entry.startTime === identity.startTime;
}
