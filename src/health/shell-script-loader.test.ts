import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import { SANDBOX_MARKER_ENV } from '../runtime/container-runtime.js';
import { lazyShellScripts, loadShellScripts, SHARED_SHELL_DIR, shellArgv } from './shell-script-loader.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scriptDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cqa-sh-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'includes'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function run(script: string, args: string[] = []): string {
  const [sh, ...rest] = shellArgv(script, args);
  return spawnSync(sh!, rest, { encoding: 'utf8' }).stdout;
}

describe('loadShellScripts', () => {
  it("splices the script's own includes and the shared ones in place, and sets the constants first", () => {
    const dir = scriptDir({
      'hello.sh': '# a header\n. "$CQ_INCLUDES/common.sh"\n. "$CQ_INCLUDES/greet.sh"\ngreet "$1"\n',
      'includes/greet.sh': 'greet() { echo "$CQ_GREETING $1 ($CQ_MARKER_ENV)"; }\n',
    });
    const { hello } = loadShellScripts(dir, ['hello'], { CQ_GREETING: "it's" });
    expect(hello).not.toContain('$CQ_INCLUDES');
    expect(hello).toContain('cq_fail()'); // common.sh, from the shared folder
    expect(run(hello, ['me'])).toBe(`it's me (${SANDBOX_MARKER_ENV})\n`);
  });

  it('keeps a constant data: quotes and $ are not expanded', () => {
    const dir = scriptDir({ 'echo.sh': 'printf "%s" "$CQ_VALUE"\n' });
    const value = `a'b $HOME "c" \`d\``;
    expect(run(loadShellScripts(dir, ['echo'], { CQ_VALUE: value }).echo)).toBe(value);
  });

  it('refuses a constant not named CQ_*', () => {
    const dir = scriptDir({ 'x.sh': 'true\n' });
    expect(() => loadShellScripts(dir, ['x'], { PATH: '/' })).toThrow(/must be named CQ_/);
  });

  it('says which file is missing and that the build copies the folders', () => {
    const dir = scriptDir({ 'inc.sh': '. "$CQ_INCLUDES/nowhere.sh"\n' });
    for (const [name, expected] of [
      ['absent', /absent\.sh is missing/],
      ['inc', /inc\.sh includes nowhere, but neither .* exists/],
    ] as const) {
      let error: unknown;
      try {
        loadShellScripts(dir, [name]);
      } catch (e) {
        error = e;
      }
      expect(isPoolError(error, 'RUNTIME_ERROR')).toBe(true);
      expect((error as Error).message).toMatch(expected);
      expect((error as Error).message).toContain('npm run build');
    }
  });

  it('reads the files once, on first use', () => {
    const dir = scriptDir({ 'one.sh': 'echo 1\n' });
    const script = lazyShellScripts(dir, ['one']);
    expect(script('one')).toContain('echo 1');
    rmSync(join(dir, 'one.sh'));
    expect(script('one')).toContain('echo 1');
  });

  it('loads every shared probe script', () => {
    const names = readdirSync(SHARED_SHELL_DIR).filter((f) => f.endsWith('.sh')).map((f) => f.slice(0, -3));
    expect(names.sort()).toEqual(['open-sessions', 'zombies']);
    for (const text of Object.values(loadShellScripts(SHARED_SHELL_DIR, names))) expect(text).not.toContain('$CQ_INCLUDES');
  });
});
