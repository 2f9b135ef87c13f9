/**
 * Vitest globalSetup of the e2e project: builds @cinnamon-qa/containers once into a package folder of its
 * own (package.json + dist + node_modules link), the way an installed copy looks. Inline projects link to
 * it from their node_modules. Building into a private folder keeps the repo's dist/ untouched and lets
 * tests run while colleagues' unfinished files elsewhere in src/ fail to type-check (tsc still emits).
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export default async function setup(project: TestProject): Promise<() => void> {
  const pkg = mkdtempSync(join(tmpdir(), 'cqa-e2e-pkg-'));
  const t0 = performance.now();
  try {
    await run(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
      cwd: REPO_ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? '');
    // Type errors still emit JavaScript; only missing entry points make the package unusable.
    if (!existsSync(join(pkg, 'dist/fixtures/index.js')) || !existsSync(join(pkg, 'dist/src/coordinator/global-setup.js'))) {
      throw new Error(`e2e: building the package failed:\n${out.slice(0, 4000)}`);
    }
    process.stderr.write(`e2e: tsc reported errors (JavaScript was emitted anyway):\n${out.split('\n').slice(0, 10).join('\n')}\n`);
  }
  // The scripts the product loads from disk (Lua, sh), as package.json's build copies them.
  cpSync(join(REPO_ROOT, 'src'), join(pkg, 'dist/src'), { recursive: true, filter: (path) => !path.endsWith('.ts') });
  cpSync(join(REPO_ROOT, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  symlinkSync(join(REPO_ROOT, 'docker'), join(pkg, 'docker'), 'dir');
  process.stderr.write(`e2e: package built in ${Math.round(performance.now() - t0)} ms at ${pkg}\n`);
  project.provide('cinnamonPackageDir', pkg);
  return () => rmSync(pkg, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    cinnamonPackageDir: string;
  }
}
