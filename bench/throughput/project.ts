import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** The four ways the workload runs (issue 5, benchmark 1). */
export type VariantName = 'a' | 'b2' | 'b4' | 'c';

export interface Variant {
  name: VariantName;
  label: string;
  workers: number;
  /** Module that exports the variant's `test`, relative to the repo root. */
  fixture: string;
  pool: boolean;
}

export const VARIANTS: readonly Variant[] = [
  { name: 'a', label: '(a) pool: withContainerPool, 2 containers', workers: 4, fixture: 'fixtures/index.ts', pool: true },
  { name: 'b2', label: '(b) container per test (testcontainers), 2 at once', workers: 2, fixture: 'bench/throughput/per-test-container.fixture.ts', pool: false },
  { name: 'b4', label: '(b) container per test (testcontainers), 4 at once', workers: 4, fixture: 'bench/throughput/per-test-container.fixture.ts', pool: false },
  { name: 'c', label: '(c) hand-wired: 2 containers, worker i → container i % 2', workers: 2, fixture: 'bench/throughput/bound-container.fixture.ts', pool: false },
];

export interface PoolSettings {
  basePort: number;
  image: string;
  poolId: string;
  namePrefix: string;
}

/** Import specifier from a generated file in `dir` to a repo file (.ts → .js, as the repo's own imports read). */
function importPath(dir: string, repoRoot: string, file: string): string {
  const rel = relative(dir, join(repoRoot, file)).replace(/\.ts$/, '.js');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/**
 * Writes a small Playwright project per variant under `root`: a config and one spec that hands the variant's
 * `test` to the shared workload. `root` gets a package.json (ESM, like the repo) and a node_modules link to
 * the repo's, so `npx playwright test` there resolves the same @playwright/test as the repo's fixtures.
 */
export async function writeProjects(root: string, repoRoot: string, pool: PoolSettings): Promise<Map<VariantName, string>> {
  await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'throughput-bench-project', private: true, type: 'module' }));
  await symlink(join(repoRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
  const configs = new Map<VariantName, string>();
  for (const variant of VARIANTS) {
    const dir = join(root, variant.name);
    await mkdir(dir);
    const at = (file: string) => JSON.stringify(importPath(dir, repoRoot, file));
    await writeFile(
      join(dir, 'workload.spec.ts'),
      `import { test } from ${at(variant.fixture)};\nimport { defineWorkload } from ${at('bench/throughput/workload.ts')};\n\ndefineWorkload(test);\n`,
    );
    const base = `defineConfig({
  testDir: '.',
  testMatch: 'workload.spec.ts',
  workers: ${variant.workers},
  // (The reporter by absolute .ts path: Playwright resolves reporters without mapping .js to .ts.)
  // One file of 40 tests: without this Playwright would run them all in one worker.
  fullyParallel: true,
  retries: 0,
  outputDir: 'test-results',
  reporter: [[${JSON.stringify(join(repoRoot, 'bench/throughput/timing-reporter.ts'))}, { outputFile: process.env.THROUGHPUT_TIMINGS_FILE }]],
})`;
    const config = variant.pool
      ? `import { defineConfig } from '@playwright/test';
import { withContainerPool } from ${at('src/index.ts')};

export default withContainerPool(${base}, {
  containers: 2,
  basePort: ${pool.basePort},
  runtime: 'docker',
  dockerImage: ${JSON.stringify(pool.image)},
  // Its own identity and ports: colleagues' pools on this machine must neither reap nor collide with it.
  poolId: ${JSON.stringify(pool.poolId)},
  namePrefix: ${JSON.stringify(pool.namePrefix)},
});
`
      : `import { defineConfig } from '@playwright/test';

export default ${base};
`;
    const file = join(dir, 'playwright.config.ts');
    await writeFile(file, config);
    configs.set(variant.name, file);
  }
  return configs;
}
