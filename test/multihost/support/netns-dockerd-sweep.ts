import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { SHORT_TMP_ROOT } from './netns-names.js';
import { runCommand } from './run-command.js';

/**
 * Where a host namespace's own Docker daemon keeps its state, and how any run removes it: the daemon of
 * namespace `cq-k3x9-h1` has everything (data-root, exec-root, socket, pidfile, log) under
 * `/tmp/cq-k3x9-h1-dockerd` and puts its containers under the cgroup `/cq-k3x9-h1-dockerd`. One name, so that a
 * later run finds a crashed run's daemon, its containerd and shims (by the folder on their command lines), its
 * container processes (by cgroup: they live in the containers' own namespaces, not the host's), its mounts and its
 * cgroups, and removes them.
 */
const SUFFIX = '-dockerd';

export function daemonStateDir(namespace: string): string {
  return join(SHORT_TMP_ROOT, `${namespace}${SUFFIX}`);
}

/** `--cgroup-parent`: a leading slash puts it under the root cgroup, not under the test process's own. */
export function daemonCgroupParent(namespace: string): string {
  return `/${namespace}${SUFFIX}`;
}

/** A process that ignores SIGKILL this long is stuck in the kernel: reported, not waited on forever. */
const KILL_BUDGET_MS = 15_000;

/** What removeDaemonState found still there and removed (empty after a clean stop). */
export interface DaemonLeftovers {
  readonly processes: string[];
  readonly mounts: string[];
  readonly cgroups: string[];
  readonly stateDir: boolean;
}

/**
 * Removes everything a namespace's daemon may have left: processes (dockerd, containerd, shims: their command line
 * names the state folder; container processes: their cgroup is under the daemon's cgroup parent), mounts under the
 * folder (overlays, netns bind mounts; deepest first), the cgroups, then the folder. Idempotent; safe on a daemon
 * that stopped cleanly (then it removes only the folder).
 */
export async function removeDaemonState(namespace: string): Promise<DaemonLeftovers> {
  const dir = daemonStateDir(namespace);
  const cgroup = daemonCgroupParent(namespace);
  const processes = await killMatching((cmdline, cgroups) => cmdline.includes(`${dir}/`) || cgroups.some((c) => c === cgroup || c.startsWith(`${cgroup}/`)));
  const mounts = mountsUnder(dir);
  for (const mount of mounts) await runCommand('umount', ['-l', mount]);
  const cgroups = removeCgroups(cgroup);
  const stateDir = existsSync(dir);
  rmSync(dir, { recursive: true, force: true });
  return { processes, mounts, cgroups, stateDir };
}

/** Removes the daemon state of every namespace `stale` names (a crashed run's); returns those namespaces. */
export async function sweepStaleDaemons(stale: (namespace: string) => boolean): Promise<string[]> {
  const swept: string[] = [];
  for (const entry of readdirSync(SHORT_TMP_ROOT, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.endsWith(SUFFIX)) continue;
    const namespace = entry.name.slice(0, -SUFFIX.length);
    if (!stale(namespace)) continue;
    await removeDaemonState(namespace);
    swept.push(namespace);
  }
  return swept;
}

/** SIGKILLs every process `matches` (by command line and cgroup paths) until none is left; returns them. */
async function killMatching(matches: (cmdline: string, cgroups: string[]) => boolean): Promise<string[]> {
  const killed = new Set<string>();
  const deadline = performance.now() + KILL_BUDGET_MS;
  let delay = 20;
  for (;;) {
    const found = listProcesses().filter((p) => p.pid !== process.pid && matches(p.cmdline, p.cgroups));
    if (found.length === 0) return [...killed];
    for (const p of found) {
      killed.add(`${p.pid} ${p.cmdline.slice(0, 160)}`);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    if (performance.now() > deadline) throw new Error(`daemon leftovers survive SIGKILL after ${KILL_BUDGET_MS} ms: ${found.map((p) => p.pid).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
  }
}

function listProcesses(): Array<{ pid: number; cmdline: string; cgroups: string[] }> {
  const list: Array<{ pid: number; cmdline: string; cgroups: string[] }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      // "ID:controllers:/path" per line (one "0::/path" line on cgroup v2).
      const cgroups = readFileSync(`/proc/${name}/cgroup`, 'utf8')
        .split('\n')
        .map((line) => line.split(':').slice(2).join(':'))
        .filter(Boolean);
      list.push({ pid: Number(name), cmdline, cgroups });
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return list;
}

/** Mount points at or under `dir` in this mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  const unescape = (path: string): string => path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescape)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** rmdir of `parent` (and the per-container cgroups below it) in every hierarchy, v1 or v2; returns what it removed. */
function removeCgroups(parent: string): string[] {
  const root = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(root, 'cgroup.controllers'))
    ? [root]
    : readdirSync(root, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(root, e.name));
  const removed: string[] = [];
  const removeTree = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) removeTree(join(path, entry.name));
    // A cgroup folder goes with rmdir only (its files are the kernel's); busy means a process is still in it.
    rmdirSync(path);
    removed.push(path);
  };
  for (const hierarchy of hierarchies) {
    const path = join(hierarchy, parent);
    if (existsSync(path)) removeTree(path);
  }
  return removed;
}
