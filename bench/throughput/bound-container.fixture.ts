/**
 * Variant (c), the hand-wired ideal: two MCP containers started before the run (bench/suite-throughput.ts),
 * worker i bound to container i % 2 for its whole life, a fresh MCP session per test, and nothing else: no
 * queue, no lease, no cleanup between tests, no analytics.
 */
import { test as base } from '@playwright/test';
import { appUrlFor } from '../../fixtures/app-url.js';
import { connectMcp } from './mcp-connect.js';
import type { WorkloadFixtures } from './workload.js';

/** Comma-separated MCP endpoints, set by the bench. */
const URLS = (process.env.THROUGHPUT_BOUND_URLS ?? '').split(',').filter(Boolean);
/** JSON array: the headers (guard credential) for each of URLS, set by the bench. */
const HEADERS = JSON.parse(process.env.THROUGHPUT_BOUND_HEADERS ?? '[]') as Array<Record<string, string>>;

export const test = base.extend<WorkloadFixtures>({
  mcpContainer: async ({}, use, testInfo) => {
    if (URLS.length === 0) throw new Error('THROUGHPUT_BOUND_URLS is not set (bench/suite-throughput.ts sets it)');
    // parallelIndex, not workerIndex: it stays in 0..workers-1 when a worker is replaced after a failure.
    const i = testInfo.parallelIndex % URLS.length;
    const session = await connectMcp(URLS[i]!, undefined, HEADERS[i]);
    try {
      await use({ client: session.client, appUrl: (url) => appUrlFor('docker', url) });
    } finally {
      await session.close();
    }
  },
});
