import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** The ways the workload runs (issue 5, benchmark 1; `w` issue 13). */
export type VariantName = 'a' | 'w' | 'b2' | 'b4' | 'c';

export interface Variant {
  name: VariantName;
  label: string;
  workers: number;
  /** Module that exports the variant's `test`, relative to the repo root. */
  fixture: string;
  pool: boolean;
  /** A pool with `reuse: true` (its own pool id and ports): each run takes over the members the run before left. */
  reuse?: boolean;
}

export const VARIANTS: readonly Variant[] = [
  { name: 'a', label: '(a) pool: withContainerPool, 2 containers', workers: 4, fixture: 'fixtures/index.ts', pool: true },
  { name: 'w', label: '(a) warm: the same pool with reuse: true, members of the run before', workers: 4, fixture: 'fixtures/index.ts', pool: true, reuse: true },
  { name: 'b2', label: '(b) container per test (testcontainers), 2 at once', workers: 2, fixture: 'bench/throughput/per-test-container.fixture.ts', pool: false },
  { name: 'b4', label: '(b) container per test (testcontainers), 4 at once', workers: 4, fixture: 'bench/throughput/per-test-container.fixture.ts', pool: false },
  { name: 'c', label: '(c) hand-wired: 2 containers, worker i → container i % 2', workers: 2, fixture: 'bench/throughput/bound-container.fixture.ts', pool: false },
];

export interface PoolSettings {
  basePort: number;
  /** The warm variant's first port (it must not share ports or pool id with (a)). @defaultValue basePort + 2 */
  warmBasePort?: number;
  image: string;
  poolId: string;
  namePrefix: string;
}

/** The warm variant's pool id (`cinnamon-pool down --pool-id` it at the end). */
export function warmPoolId(poolId: string): string {
  return `${poolId}-warm`;
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
import { withContainerPool } from ${at('src/config-entry.ts')};

export default withContainerPool(${base}, {
  containers: 2,
  basePort: ${variant.reuse ? (pool.warmBasePort ?? pool.basePort + 2) : pool.basePort},
  runtime: 'docker',
  dockerImage: ${JSON.stringify(pool.image)},
  // Its own identity and ports: colleagues' pools on this machine must neither reap nor collide with it.
  poolId: ${JSON.stringify(variant.reuse ? warmPoolId(pool.poolId) : pool.poolId)},
  namePrefix: ${JSON.stringify(variant.reuse ? `${pool.namePrefix}-warm` : pool.namePrefix)},${variant.reuse ? '\n  reuse: true,' : ''}
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
