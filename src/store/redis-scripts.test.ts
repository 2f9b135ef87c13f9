import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LUA_DIR, loadScripts } from './redis-scripts.js';

describe('loadScripts', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function copyOfScripts(): string {
    const dir = mkdtempSync(join(tmpdir(), 'cq-lua-'));
    dirs.push(dir);
    cpSync(DEFAULT_LUA_DIR, dir, { recursive: true });
    return dir;
  }

  it('loads every script of a clean copy', () => {
    expect(loadScripts(copyOfScripts()).get('dispatch')?.numberOfKeys).toBeGreaterThan(0);
  });

  it('refuses a directory where an older build left a second version of a script (another key count), naming both', () => {
    const dir = copyOfScripts();
    const current = loadScripts(dir).get('dispatch')!.numberOfKeys;
    writeFileSync(join(dir, `dispatch-${current + 1}.lua`), 'return 0\n');
    expect(() => loadScripts(dir)).toThrow(new RegExp(`two versions of script dispatch \\(dispatch-\\d+\\.lua and dispatch-\\d+\\.lua\\)`));
  });
});
