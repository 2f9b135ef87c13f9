import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  rmSync(join(OWNER_DIR, `${networkKey}.root-children`), { force: true });
}

/**
 * A process the network's owner started in the root namespace (Redis on the bridge): outside every namespace, so
 * a sweep of namespace pids would miss it after a crash. `marker` must appear in its command line: a pid reused by
 * an unrelated process after a reboot is never killed.
 */
export function recordRootChild(networkKey: string, pid: number, marker: string): void {
  mkdirSync(OWNER_DIR, { recursive: true });
  appendFileSync(join(OWNER_DIR, `${networkKey}.root-children`), `${pid} ${marker}\n`);
}

/** Kills (SIGKILL) the recorded root-namespace children of a network whose owner is gone; returns their pids. */
export function killRootChildren(networkKey: string): number[] {
  let lines: string[];
  try {
    lines = readFileSync(join(OWNER_DIR, `${networkKey}.root-children`), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const line of lines) {
    const [pidText, marker = ''] = line.split(' ');
    const pid = Number(pidText);
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone already
    }
    if (!marker || !cmdline.includes(marker)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return killed;
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
