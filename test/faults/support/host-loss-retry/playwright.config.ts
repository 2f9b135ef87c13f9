/**
 * The suite fault 11-host-loss-retry.test.ts runs as a shard of a shared pool: one worker, one test that holds
 * its member until told to stop, and `retries: 1` — what docs/multi-host.md asks of every shared-mode suite, so
 * a test whose host is lost under it is re-run on a member of a live host.
 * Pool mode, Redis, pool id and app host come from the environment (CINNAMON_POOL_MODE, REDIS_URL,
 * CINNAMON_POOL_ID, CINNAMON_POOL_APP_HOST); HOST_LOSS_DIR names the folder for the markers and the JSON report.
 */
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { withContainerPool } from '../../../../src/index.js';

const dir = process.env.HOST_LOSS_DIR;
if (!dir) throw new Error('HOST_LOSS_DIR must name the folder for the markers and the report');

export default withContainerPool(
  defineConfig({
    testDir: '.',
    testMatch: 'host-loss.spec.ts',
    workers: 1,
    retries: 1,
    // The first attempt waits for its host to be lost and then for the pool to confirm it (the agent's host
    // lease, 8 s here, and a sweep): a budget for a loaded machine, not a target.
    timeout: 120_000,
    outputDir: join(dir, 'test-results'),
    reporter: [['list'], ['json', { outputFile: join(dir, 'report.json') }]],
  }),
  { mode: 'shared', redisUrl: process.env.REDIS_URL },
);
