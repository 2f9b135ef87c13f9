import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeRules } from './bridge-firewall.js';
import { sweepStaleDaemons } from './netns-dockerd-sweep.js';
import { DEFAULT_NETNS_PREFIX, SHORT_TMP_ROOT, idOfName } from './netns-names.js';
import { forgetOwner, killRootChildren, ownerAlive, recordedNetworks } from './netns-owner.js';
import { runCommand } from './run-command.js';

/** Pids of every process in a namespace (empty when the namespace does not exist). */
export async function namespacePids(namespace: string): Promise<number[]> {
  const listed = await runCommand('ip', ['netns', 'pids', namespace]);
  if (listed.code !== 0) return [];
  return listed.stdout.split(/\s+/).filter(Boolean).map(Number).filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** A process that ignores SIGKILL for this long is stuck in the kernel (D state): report rather than wait on. */
const KILL_BUDGET_MS = 10_000;

/** SIGKILLs every process left in a namespace and waits until none is listed (a namespace with processes in it
 * outlives `ip netns del`). */
export async function killNamespaceProcesses(namespace: string): Promise<void> {
  const deadline = performance.now() + KILL_BUDGET_MS;
  let delay = 20;
  for (;;) {
    const pids = await namespacePids(namespace);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    if (performance.now() > deadline) throw new Error(`namespace ${namespace}: processes ${pids.join(', ')} survive SIGKILL after ${KILL_BUDGET_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/** What a sweep removed, for a log line. */
export interface StaleSweep {
  readonly namespaces: string[];
  readonly links: string[];
  readonly rules: string[];
  readonly tmpDirs: string[];
  /** Pids of processes the crashed owner had started in the root namespace (its Redis). */
  readonly rootProcesses: number[];
  /** Namespaces whose own Docker daemon (netns-dockerd.ts) was removed: processes, containers, mounts, state. */
  readonly daemons: string[];
}

/**
 * Removes what an earlier crashed run left behind: namespaces (and their processes), bridges and veths, TMPDIR
 * folders, iptables rules and the processes it started in the root namespace (Redis) whose names carry `prefix`, when the process that created them is no longer running. A network
 * whose owner still runs (another run on this machine) is left alone. Call it at the start of every run.
 */
export async function cleanupStale(prefix: string = DEFAULT_NETNS_PREFIX): Promise<StaleSweep> {
  const stale = (name: string): boolean => {
    const id = idOfName(prefix, name);
    return id !== undefined && !ownerAlive(`${prefix}-${id}`);
  };
  const sweep: StaleSweep = { namespaces: [], links: [], rules: [], tmpDirs: [], rootProcesses: [], daemons: [] };

  // First: a namespace's dockerd runs containers outside the namespace's process list (see netns-dockerd-sweep.ts).
  sweep.daemons.push(...(await sweepStaleDaemons(stale)));

  const nsList = await runCommand('ip', ['netns', 'list']);
  for (const line of nsList.stdout.split('\n')) {
    const ns = line.trim().split(/\s+/)[0];
    if (!ns || !stale(ns)) continue;
    await killNamespaceProcesses(ns);
    const deleted = await runCommand('ip', ['netns', 'del', ns]);
    if (deleted.code === 0) sweep.namespaces.push(ns);
  }

  const links = await runCommand('ip', ['-o', 'link', 'show']);
  for (const line of links.stdout.split('\n')) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    if (!name || !stale(name)) continue;
    const deleted = await runCommand('ip', ['link', 'del', name]);
    if (deleted.code === 0) sweep.links.push(name);
  }

  sweep.rules.push(...(await removeRules((comment) => stale(comment))));

  for (const entry of readdirSync(SHORT_TMP_ROOT, { withFileTypes: true })) {
    if (!entry.isDirectory() || !stale(entry.name)) continue;
    rmSync(join(SHORT_TMP_ROOT, entry.name), { recursive: true, force: true });
    sweep.tmpDirs.push(entry.name);
  }

  for (const key of recordedNetworks()) {
    if (!key.startsWith(`${prefix}-`) || ownerAlive(key)) continue;
    sweep.rootProcesses.push(...killRootChildren(key));
    forgetOwner(key);
  }
  return sweep;
}
