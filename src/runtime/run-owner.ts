import { hostname } from 'node:os';
import { readProcEntry } from './proc-table.js';

/** The process that runs a pool, stamped on what its runtime creates: while it lives, that is no leftover. */
export interface RunOwner {
  host: string;
  pid: number;
  /** Start time in clock ticks after boot (Linux /proc): tells the owner from a later process with its pid. */
  startTime?: number;
}

export function currentRunOwner(): RunOwner {
  const startTime = readProcEntry(process.pid)?.startTime;
  return { host: hostname(), pid: process.pid, ...(startTime === undefined ? {} : { startTime }) };
}

/**
 * Whether the owner still runs: true or false on this host; undefined for another host's run (a shared Docker
 * daemon), whose owner cannot be checked from here.
 */
export function ownerAlive(owner: RunOwner): boolean | undefined {
  if (owner.host !== hostname()) return undefined;
  if (owner.startTime !== undefined) {
    const entry = readProcEntry(owner.pid);
    if (entry) return entry.state !== 'Z' && entry.startTime === owner.startTime;
    // No /proc entry: gone on Linux; elsewhere /proc does not exist and the signal check below decides.
  }
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
