import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { poolDir } from '../runtime/process/sandbox-layout.js';
import { dockerWarmMemberSchema } from '../runtime/docker/docker-warm-members.js';
import { warmMemberSchema } from '../runtime/process/warm-members.js';

/** File names in the pool's folder under the process runtime's sandbox root (`<root>/<poolId>/`). */
const STATE_FILE = 'warm-pool.json';
const LOCK_FILE = 'warm-pool.lock';

export function warmStatePath(sandboxRoot: string, poolId: string): string {
  return join(poolDir(sandboxRoot, poolId), STATE_FILE);
}

export function warmLockPath(sandboxRoot: string, poolId: string): string {
  return join(poolDir(sandboxRoot, poolId), LOCK_FILE);
}

export const WARM_STATE_FILE = STATE_FILE;
export const WARM_LOCK_FILE = LOCK_FILE;

const common = {
  version: z.literal(1),
  poolId: z.string(),
  fingerprint: z.string(),
  parts: z.record(z.string(), z.string()),
  /** When the run that left the members ended. */
  savedAt: z.string(),
  /** Who left them (pid of that run). */
  leftBy: z.number().int(),
  idleMs: z.number().int().positive(),
  /**
   * Members that were Available when the run stopped serving (cleaned after their last holder): the next run
   * hands them out without cleaning them again. Absent (a state of an older version): every member is cleaned.
   */
  clean: z.array(z.string()).optional(),
};
const warmStateSchema = z.discriminatedUnion('runtime', [
  z.object({ ...common, runtime: z.literal('process'), members: z.array(warmMemberSchema) }).strict(),
  z.object({ ...common, runtime: z.literal('docker'), members: z.array(dockerWarmMemberSchema) }).strict(),
]);
/**
 * What a run that kept its members warm leaves for the next (mode 600): the fingerprint it was started with
 * and, per member, its server, guard, ports and sandbox (process runtime) or its container and network (Docker). No key: each run starts its members' guards with its own.
 */
export type WarmState = z.output<typeof warmStateSchema>;

/** The state, or undefined when missing; 'unreadable' when it cannot be used (torn, another version). */
export async function readWarmState(path: string): Promise<WarmState | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'unreadable';
  }
  try {
    const parsed = warmStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Writes through a temporary file and rename (never torn), mode 600. */
export async function writeWarmState(path: string, state: WarmState): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export async function removeWarmState(path: string): Promise<void> {
  await rm(path, { force: true });
}
