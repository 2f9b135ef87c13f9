import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { PoolStore } from '../store/pool-store.js';

/** @defaultValue 5000: test ids kept in the file; the least recently run are dropped first. */
export const DEFAULT_HISTORY_TEST_LIMIT = 5_000;

const historySchema = z.object({
  version: z.literal(1),
  savedAt: z.number(),
  /** Test id → durations (ms), oldest first; object key order is most recently run last. */
  tests: z.record(z.string(), z.array(z.number().nonnegative().finite())),
});
type HistoryDocument = z.output<typeof historySchema>;

export interface HistoryLoadResult {
  tests: number;
  samples: number;
  /** Set when the file existed but could not be used (the run goes on with an empty history). */
  problem?: string;
}

/**
 * Execution history of the embedded (memory) store, kept in a JSON file between runs so adaptive timeouts
 * learn across runs as they do with Redis. The store cannot list the test ids it holds, so the ids are
 * tracked here: those loaded from the file plus every id recorded during the run.
 */
export class HistoryFile {
  private readonly ids = new Set<string>();

  constructor(
    readonly path: string,
    private readonly store: PoolStore,
    private readonly historyLimit: number,
    private readonly testLimit = DEFAULT_HISTORY_TEST_LIMIT,
  ) {}

  /** Feeds the file's durations into the store. A missing file is an empty history; a bad one is reported, not fatal. */
  async load(): Promise<HistoryLoadResult> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { tests: 0, samples: 0 };
      return { tests: 0, samples: 0, problem: `cannot read ${this.path}: ${(error as Error).message}` };
    }
    let document: HistoryDocument;
    try {
      const parsed = historySchema.safeParse(JSON.parse(text));
      if (!parsed.success) return { tests: 0, samples: 0, problem: `${this.path} is not a history file (${parsed.error.issues[0]?.message}); it will be rewritten` };
      document = parsed.data;
    } catch (error) {
      return { tests: 0, samples: 0, problem: `${this.path} is not JSON (${(error as Error).message}); it will be rewritten` };
    }
    let samples = 0;
    for (const [testId, durations] of Object.entries(document.tests)) {
      this.ids.add(testId);
      for (const d of durations.slice(-this.historyLimit)) {
        await this.store.appendExecution(testId, d, this.historyLimit);
        samples++;
      }
    }
    return { tests: this.ids.size, samples };
  }

  /** Marks `testId` as recorded in this run (most recent last, so the cap drops the stalest ids). */
  noteRecorded(testId: string): void {
    this.ids.delete(testId);
    this.ids.add(testId);
  }

  /** Writes every known test's durations (atomically: a crash mid-write leaves the previous file). */
  async save(): Promise<void> {
    const ids = [...this.ids].slice(-this.testLimit);
    const tests: Record<string, number[]> = {};
    for (const id of ids) {
      const durations = await this.store.getExecutions(id);
      if (durations.length) tests[id] = durations;
    }
    const document: HistoryDocument = { version: 1, savedAt: Date.now(), tests };
    await mkdir(dirname(this.path), { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(document)}\n`);
    await rename(temporary, this.path);
  }
}
