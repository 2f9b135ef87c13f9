/**
 * The example suite's config (playwright.config.ts at the repository root) for one shard of the multi-host tier:
 * the same tests, app server and pool options, but every output under SHARD_OUTPUT_DIR, so that two shards run
 * from one checkout at once without sharing test-results/, playwright-report/ or pool-report/.
 * Pool mode, Redis, pool id and app host come from the environment (CINNAMON_POOL_MODE, REDIS_URL,
 * CINNAMON_POOL_ID, CINNAMON_POOL_APP_HOST), as a CI job would set them.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlaywrightTestConfig, ReporterDescription } from '@playwright/test';
import base from '../../../playwright.config.js';
import { SHARD_OUTPUT_DIR_ENV } from './shard-env.js';


const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const outputRoot = process.env[SHARD_OUTPUT_DIR_ENV];
if (!outputRoot || !isAbsolute(outputRoot)) throw new Error(`${SHARD_OUTPUT_DIR_ENV} must name an absolute folder for this shard's outputs (got ${JSON.stringify(outputRoot)})`);

const POOL_REPORTER = /reporter[/\\]index\.[cm]?[jt]s$|^@cinnamon-qa\/containers\/reporter$/;

function shardReporters(reporters: PlaywrightTestConfig['reporter']): ReporterDescription[] {
  const list = (Array.isArray(reporters) ? reporters : []) as ReporterDescription[];
  return list.map(([name, options]): ReporterDescription => {
    const given = (options ?? {}) as Record<string, unknown>;
    if (name === 'html') return ['html', { ...given, open: 'never', outputFolder: join(outputRoot!, 'playwright-report') }];
    if (POOL_REPORTER.test(name)) return [name, { ...given, outputDir: join(outputRoot!, 'pool-report') }];
    return [name, options];
  });
}

if (!base.webServer || Array.isArray(base.webServer)) throw new Error('playwright.config.ts: expected one webServer (the example shop)');

/**
 * Per-test budget. The suite's default 30 s is a local run's; here two shards x 4 workers, 4 Chromium members and
 * both agents share 2 cores with whatever else runs (load 20-50 seen), and the tier checks the pool's invariants,
 * not test speed: tests that passed in 2-18 s hit 30 s at load 30.
 */
const TEST_TIMEOUT_MS = 120_000;

export default {
  ...base,
  // Relative paths in a config resolve against the config's own folder: this one lives elsewhere.
  testDir: resolve(repoRoot, base.testDir ?? '.'),
  outputDir: join(outputRoot, 'test-results'),
  timeout: TEST_TIMEOUT_MS,
  reporter: shardReporters(base.reporter),
  webServer: { ...base.webServer, cwd: repoRoot },
} satisfies PlaywrightTestConfig;
