import { readdir, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Clock } from '../../clock/clock.js';
import { SANDBOX_MARKER_ENV } from '../container-runtime.js';
import { waitForPortClosed } from '../port-probe.js';
import { listProcesses, readEnvironVariable, readProcEntry } from '../proc-table.js';
import { terminateProcessGroup } from './process-group.js';
import { isAlive, readRunState } from './run-state-file.js';
import { stateFilePath } from './sandbox-layout.js';
import { GUARD_MARKER_ENV } from './warm-members.js';

/**
 * Removes what crashed earlier runs of one pool left on this machine: their process groups (MCP servers,
 * Chromium, exec'd commands) and their run folders. A run whose owner process still lives is another run in
 * progress and is left alone. Returns one line per removed thing.
 */
export async function reapLeftoverRuns(poolDirectory: string, graceMs: number, clock: Clock): Promise<string[]> {
  const runNames = await listRunFolders(poolDirectory);
  const aliveRuns = new Set<string>();
  const leftoverRuns: string[] = [];
  const leftoverPorts: number[] = [];
  for (const name of runNames) {
    const state = await readRunState(stateFilePath(join(poolDirectory, name)));
    // No readable state means the owner died before or while writing it: nothing alive vouches for the run.
    if (state && isAlive(state.owner)) aliveRuns.add(name);
    else {
      leftoverRuns.push(name);
      leftoverPorts.push(...Object.values(state?.members ?? {}).map((m) => m.port));
    }
  }

  // Found by the sandbox marker in each process's environment rather than by the pids in the state file: it
  // also catches Chromium helpers that changed group and runs whose state file never got written, and a
  // recycled pid of an unrelated program can never match.
  const ownGroup = readProcEntry(process.pid)?.pgid;
  const groups = new Map<number, string>();
  const prefix = poolDirectory + sep;
  for (const entry of listProcesses()) {
    if (entry.state === 'Z' || entry.pid === process.pid || entry.pgid === ownGroup) continue;
    // Warm guards (issue 13) run outside the sandbox marker, with one of their own.
    const marker = readEnvironVariable(entry.pid, SANDBOX_MARKER_ENV) ?? readEnvironVariable(entry.pid, GUARD_MARKER_ENV);
    if (!marker?.startsWith(prefix)) continue;
    const runName = relative(poolDirectory, marker).split(sep)[0] ?? '';
    if (aliveRuns.has(runName)) continue;
    if (!groups.has(entry.pgid)) groups.set(entry.pgid, relative(poolDirectory, marker));
  }

  const removed: string[] = [];
  await Promise.all(
    [...groups].map(async ([pgid, where]) => {
      const result = await terminateProcessGroup(pgid, graceMs);
      if (result.endedBy !== 'none') {
        const survivors = result.survivors.length ? `; pids ${result.survivors.join(', ')} survived SIGKILL` : '';
        removed.push(`process group ${pgid} (${where}) ended by ${result.endedBy}${survivors}`);
      }
    }),
  );
  // The caller starts new servers on the same ports next. A killed server whose parent is gone stays a
  // zombie until init reaps it, and some kernels (gVisor) free its listening socket only then.
  if (groups.size) await Promise.all(leftoverPorts.map((port) => waitForPortClosed(clock, '127.0.0.1', port, PORT_RELEASE_WAIT_MS)));
  for (const name of leftoverRuns) {
    const path = join(poolDirectory, name);
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
    removed.push(`folder ${path}`);
  }
  return removed;
}

/** How long reaping waits for a killed leftover's port to be free again. */
const PORT_RELEASE_WAIT_MS = 3_000;

async function listRunFolders(poolDirectory: string): Promise<string[]> {
  try {
    const entries = await readdir(poolDirectory, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
