import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Which process created a test network: one file per network holding the owner's pid, written before anything
 * is created. A sweep removes a network only when its owner is gone, so two runs on one machine (two engineers,
 * or CI next to a developer) never tear down each other's namespaces.
 */
const OWNER_DIR = '/run/cinnamon-qa-netns';

export function recordOwner(networkKey: string): void {
  mkdirSync(OWNER_DIR, { recursive: true });
  writeFileSync(join(OWNER_DIR, `${networkKey}.pid`), String(process.pid));
}

export function forgetOwner(networkKey: string): void {
  rmSync(join(OWNER_DIR, `${networkKey}.pid`), { force: true });
}

/** True when the network's recorded owner process still runs (false when there is no record). */
export function ownerAlive(networkKey: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(OWNER_DIR, `${networkKey}.pid`), 'utf8').trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Keys of every network with an owner record (live or not). */
export function recordedNetworks(): string[] {
  try {
    return readdirSync(OWNER_DIR)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => f.slice(0, -'.pid'.length));
  } catch {
    return [];
  }
}
