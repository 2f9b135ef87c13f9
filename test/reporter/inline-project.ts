import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * A throw-away Playwright project run with the real `playwright test` (Playwright's own runInlineTest way):
 * the files are written to a temp folder that shares this repository's node_modules, and the reporter and the
 * analytics project are loaded from src/ (Playwright compiles the TypeScript).
 */

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PLAYWRIGHT_CLI = join(REPO, 'node_modules/@playwright/test/cli.js');

export interface InlineRun {
  dir: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function createInlineProject(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pool-reporter-e2e-'));
  await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'inline', private: true, type: 'module' }));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}

export function runPlaywright(dir: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<InlineRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [PLAYWRIGHT_CLI, 'test', ...args],
      {
        cwd: dir,
        timeout: 120_000,
        maxBuffer: 10 * 1024 * 1024,
        // A clean environment for the run: no CI (changes default reporters), no colours, no pool of ours.
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', PLAYWRIGHT_HTML_OPEN: 'never', ...env },
      },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ dir, exitCode, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export async function removeInlineProject(dir: string): Promise<void> {
  if (process.env.KEEP_INLINE_PROJECT) return;
  await rm(dir, { recursive: true, force: true });
}
