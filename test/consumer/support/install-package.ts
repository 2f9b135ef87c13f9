/**
 * Vitest globalSetup of the consumer project: the package the way a user gets it. `npm pack` in the repository
 * (its prepack builds dist/), then a fresh project in the system temp folder — outside the repository, so
 * nothing resolves through the repo's node_modules — that `npm install`s the tarball and @playwright/test, as
 * `npm install @cinnamon-qa/containers` from the registry would: dependencies hoisted by npm, no lock file of
 * ours. As root, the project's node_modules is then mounted read-only, as it is in some CI images.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
/** A tarball `npm pack` made already; unset, this setup packs the working tree itself. */
const TARBALL_ENV = 'CINNAMON_CONSUMER_TARBALL';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const work = mkdtempSync(join(tmpdir(), 'cqc-'));
  // Short paths: the process runtime keeps Chromium's TMPDIR (under the run's TMPDIR) within 60 characters.
  const consumer = join(work, 'p');
  const say = (line: string) => process.stderr.write(`consumer: ${line}\n`);
  const t0 = performance.now();
  // CI packs once and runs this project under several Node versions with the same tarball.
  let tarball = process.env[TARBALL_ENV];
  if (tarball) {
    say(`using ${tarball} (${TARBALL_ENV}), node ${process.version}`);
  } else {
    const { stdout: packed } = await run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: REPO_ROOT, maxBuffer: 64 * 2 ** 20 });
    tarball = join(work, packed.trim().split('\n').pop()!);
    say(`packed ${tarball} (${Math.round(performance.now() - t0)} ms, node ${process.version})`);
  }

  const playwrightVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/@playwright/test/package.json'), 'utf8')) as { version: string }).version;
  await run('mkdir', ['-p', consumer]);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer-project', private: true, type: 'module' }, null, 2));
  const t1 = performance.now();
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarball, `@playwright/test@${playwrightVersion}`], {
    cwd: consumer,
    maxBuffer: 64 * 2 ** 20,
  });
  say(`installed into ${consumer} (${Math.round(performance.now() - t1)} ms)`);

  const modules = join(consumer, 'node_modules');
  let readOnly = false;
  if (process.getuid?.() === 0) {
    try {
      await run('mount', ['--bind', modules, modules]);
      await run('mount', ['-o', 'remount,bind,ro', modules]);
      readOnly = true;
      say('node_modules mounted read-only');
    } catch (error) {
      say(`could not mount node_modules read-only (${(error as Error).message.split('\n')[0]}); running with it writable`);
    }
  }
  project.provide('consumerProject', { dir: consumer, readOnlyModules: readOnly });
  return async () => {
    if (readOnly) await run('umount', [modules]).catch(() => run('umount', ['-l', modules]));
    rmSync(work, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    consumerProject: { dir: string; readOnlyModules: boolean };
  }
}
