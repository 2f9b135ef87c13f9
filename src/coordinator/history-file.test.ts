import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryPoolStore } from '../store/memory-store.js';
import { HistoryFile } from './history-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'history-'));
  dirs.push(dir);
  return join(dir, 'nested', 'history.json');
}

describe('HistoryFile', () => {
  it('carries durations from one run to the next', async () => {
    const path = tempFile();
    const first = new MemoryPoolStore();
    const history = new HistoryFile(path, first, 100);
    expect(await history.load()).toEqual({ tests: 0, samples: 0 });
    for (const d of [100, 200]) {
      await first.appendExecution('a › one', d, 100);
      history.noteRecorded('a › one');
    }
    await first.appendExecution('a › two', 50, 100);
    history.noteRecorded('a › two');
    await history.save();

    const second = new MemoryPoolStore();
    const loaded = await new HistoryFile(path, second, 100).load();
    expect(loaded).toEqual({ tests: 2, samples: 3 });
    expect(await second.getExecutions('a › one')).toEqual([100, 200]);
    expect(await second.getExecutions('a › two')).toEqual([50]);
  });

  it('keeps the most recently run tests when over the cap, and at most historyLimit durations each', async () => {
    const path = tempFile();
    const store = new MemoryPoolStore();
    const history = new HistoryFile(path, store, 10, 2);
    for (const id of ['x', 'y', 'z']) {
      for (let i = 0; i < 12; i++) await store.appendExecution(id, i, 10);
      history.noteRecorded(id);
    }
    history.noteRecorded('x');
    await history.save();
    const saved = JSON.parse(readFileSync(path, 'utf8')) as { tests: Record<string, number[]> };
    expect(Object.keys(saved.tests)).toEqual(['z', 'x']);
    expect(saved.tests.x).toHaveLength(10);
  });

  it('reports an unusable file instead of failing the run', async () => {
    const path = tempFile();
    const history = new HistoryFile(path, new MemoryPoolStore(), 10);
    await history.save();
    writeFileSync(path, '{ not json');
    expect((await history.load()).problem).toMatch(/is not JSON/);
    writeFileSync(path, JSON.stringify({ version: 2 }));
    expect((await history.load()).problem).toMatch(/not a history file/);
  });
});
