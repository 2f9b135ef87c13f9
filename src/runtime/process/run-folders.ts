import { mkdir, rm, rmdir } from 'node:fs/promises';
import type { RunContext } from '../container-runtime.js';
import { runtimeError } from '../runtime-error.js';
import { identify, writeRunState, type MemberRecord, type RunState } from './run-state-file.js';
import { poolDir, runDir, stateFilePath } from './sandbox-layout.js';

/** One run's folder and its state file (who owns the run, which servers it started), written in order. */
export interface RunFolder {
  dir: string;
  state: RunState;
  writes: Promise<void>;
}

/**
 * The run folders of one ProcessRuntime under its sandbox root. The state file is what a later run's reaper
 * reads: while its owner lives, the run is not a leftover.
 */
export class RunFolders {
  private readonly runs = new Map<string, RunFolder>();

  constructor(private readonly rootDir: string) {}

  /** The run folder and its state file, made once per run (state first, so a reaper never sees it unowned). */
  async get(ctx: RunContext): Promise<RunFolder> {
    const dir = runDir(this.rootDir, ctx);
    let run = this.runs.get(dir);
    if (run) return run;
    const owner = identify(process.pid);
    if (!owner) {
      throw runtimeError('process', { stage: 'start', problem: 'cannot read /proc/self/stat', fix: 'The process runtime needs Linux /proc; use runtime: \'docker\'.' });
    }
    const state: RunState = { version: 1, poolId: ctx.poolId, runId: ctx.runId, owner, members: {} };
    // Folder and first state write form the first link of the write chain, so a concurrent start of another
    // member (which finds this run in the map at once) cannot write its state before the folder exists.
    run = { dir, state, writes: mkdir(dir, { recursive: true }).then(() => writeRunState(stateFilePath(dir), state)) };
    this.runs.set(dir, run);
    try {
      await run.writes;
    } catch (error) {
      this.runs.delete(dir);
      throw runtimeError('process', {
                stage: 'start',
        problem: `cannot create the run folder ${dir}: ${String(error)}`,
        fix: 'Check that the sandbox root is writable, or pass another rootDir.',
        cause: error,
      });
    }
    return run;
  }

  /** Records (or, with undefined, forgets) a member's server and writes the state file. */
  record(run: RunFolder, containerId: string, member: MemberRecord | undefined): Promise<void> {
    if (member) run.state.members[containerId] = member;
    else delete run.state.members[containerId];
    const snapshot: RunState = structuredClone(run.state);
    run.writes = run.writes.catch(() => undefined).then(() => writeRunState(stateFilePath(run.dir), snapshot));
    return run.writes;
  }

  /** Removes every run folder, then the pool folders and the root when no other run uses them. */
  async removeAll(failures: unknown[]): Promise<void> {
    for (const run of this.runs.values()) {
      await run.writes.catch(() => undefined);
      await rm(run.dir, { recursive: true, force: true, maxRetries: 3 }).catch((e: unknown) => failures.push(e));
    }
    // The pool folder and the root are shared with other runs: remove them only when this run was the last.
    for (const dir of new Set([...this.runs.values()].map((r) => poolDir(this.rootDir, r.state.poolId)))) {
      await rmdir(dir).catch(() => undefined);
    }
    await rmdir(this.rootDir).catch(() => undefined);
  }
}
