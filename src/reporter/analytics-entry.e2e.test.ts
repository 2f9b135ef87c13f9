import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureAudit } from '../../test/reporter/analytics-fixture.js';
import { createInlineProject, REPO, removeInlineProject, runPlaywright, type InlineRun } from '../../test/reporter/inline-project.js';
import { ANALYTICS_TEST_TITLE } from './analytics-project.js';

/*
 * End to end through `playwright test`: a stub coordinator started by globalSetup (the same HTTP routes and
 * bearer token as the real one), the analytics teardown project added by addAnalyticsProject, this reporter,
 * Playwright's HTML and JSON reporters. Checks the ordering the reporter relies on (the coordinator is gone at
 * onEnd) and what lands in the HTML report.
 */

const SRC = join(REPO, 'src/reporter');

const GLOBAL_SETUP = `
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { ANALYTICS_SNAPSHOT_ENV, writeAnalyticsSnapshot } from '${SRC}/index.js';

export default async function globalSetup() {
  const data = JSON.parse(readFileSync(process.env.E2E_DATA, 'utf8'));
  const token = 'run-token-123';
  const server = createServer((req, res) => {
    if (req.headers.authorization !== 'Bearer ' + token) { res.writeHead(401).end(); return; }
    const body = req.url === '/v1/analytics' ? data.analytics : req.url === '/v1/audit' ? data.audit : undefined;
    if (body === undefined) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.env.CINNAMON_POOL_URL = 'http://127.0.0.1:' + server.address().port;
  process.env.CINNAMON_POOL_TOKEN = token;
  return async () => {
    if (process.env.E2E_WRITE_SNAPSHOT === '1') await writeAnalyticsSnapshot(process.env[ANALYTICS_SNAPSHOT_ENV], data);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    console.log('E2E: coordinator stopped');
  };
}
`;

const CONFIG = `
import { defineConfig } from '@playwright/test';
import { addAnalyticsProject } from '${SRC}/index.js';

export default defineConfig({
  globalSetup: './global-setup.ts',
  workers: 2,
  reporter: [
    ['line'],
    ['html', { open: 'never', outputFolder: 'html-report' }],
    ['json', { outputFile: 'results.json' }],
    ['${SRC}/index.ts', { outputDir: 'pool-report' }],
    ['./order-probe.ts'],
  ],
  projects: addAnalyticsProject([{ name: 'shop', testDir: './tests' }]),
});
`;

// Prints when onEnd runs relative to the coordinator's teardown (the ordering the reporter's sources rely on).
const ORDER_PROBE = `
export default class OrderProbe {
  printsToStdio() { return false; }
  async onEnd() {
    const url = process.env.CINNAMON_POOL_URL;
    const up = await fetch(url + '/v1/analytics').then(() => true, () => false);
    console.log('E2E: at onEnd the coordinator is ' + (up ? 'up' : 'down'));
  }
}
`;

const SPEC = `
import { test, expect } from '@playwright/test';

const pool = (priority, budgetMs) => [
  { type: 'pool.priority', description: priority },
  { type: 'pool.container', description: 'cinnamon-qa-mcp-1' },
  { type: 'pool.waitMs', description: '40' },
  { type: 'timeout.budgetMs', description: String(budgetMs) },
];

test.describe('shop', () => {
  test('checkout <img src=x onerror=alert(1)>', async ({}, testInfo) => {
    testInfo.annotations.push(...pool('critical', 2000));
    await new Promise((r) => setTimeout(r, 150));
  });
  test('search', async ({}, testInfo) => {
    testInfo.annotations.push(...pool('normal', 4000));
    await new Promise((r) => setTimeout(r, 50));
  });
  test('breaks on purpose', async () => {
    expect(process.env.E2E_FAIL).toBeUndefined();
  });
});
`;

interface JsonTest {
  annotations: Array<{ type: string; description?: string }>;
  results: Array<{
    status: string;
    annotations?: Array<{ type: string; description?: string }>;
    attachments: Array<{ name: string; contentType: string; path?: string; body?: string }>;
  }>;
}
interface JsonSuite {
  title: string;
  specs: Array<{ title: string; tests: Array<JsonTest & { projectName: string }> }>;
  suites?: JsonSuite[];
}

function findSpec(suites: readonly JsonSuite[], title: string): (JsonTest & { projectName: string }) | undefined {
  for (const suite of suites) {
    const spec = suite.specs.find((s) => s.title === title);
    if (spec) return spec.tests[0];
    const nested = findSpec(suite.suites ?? [], title);
    if (nested) return nested;
  }
  return undefined;
}

describe('the analytics teardown project and the reporter in a real run', () => {
  let dir: string;
  const data = { analytics: fixtureAnalytics(), audit: fixtureAudit() };

  beforeAll(async () => {
    dir = await createInlineProject({
      'global-setup.ts': GLOBAL_SETUP,
      'playwright.config.ts': CONFIG,
      'order-probe.ts': ORDER_PROBE,
      'tests/shop.spec.ts': SPEC,
      'data.json': JSON.stringify(data),
    });
  });
  afterAll(async () => {
    if (dir) await removeInlineProject(dir);
  });

  const run = (env: NodeJS.ProcessEnv, args: string[] = []): Promise<InlineRun> => runPlaywright(dir, args, { E2E_DATA: join(dir, 'data.json'), ...env });

  it('runs the analytics test last, annotates and attaches; the reporter reads the teardown snapshot at onEnd', async () => {
    const result = await run({ E2E_WRITE_SNAPSHOT: '1' });
    expect(result.stderr).not.toContain('pool reporter]');
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);

    // Playwright 1.65 stops globalSetup's teardown before reporters' onEnd: the live coordinator is gone.
    expect(result.stdout.indexOf('E2E: coordinator stopped')).toBeLessThan(result.stdout.indexOf('E2E: at onEnd the coordinator is down'));
    expect(result.stdout).toContain('Container pool analytics  (from snapshot pool-report/.pool-snapshot.json)');
    expect(result.stdout).toContain('Tests wait long for a container');

    const json = JSON.parse(await readFile(join(dir, 'pool-report/pool-analytics.json'), 'utf8'));
    expect(json).toEqual(data.analytics);
    const jsonl = (await readFile(join(dir, 'pool-report/pool-audit.jsonl'), 'utf8')).trim().split('\n');
    expect(jsonl).toHaveLength(data.audit.length);
    const html = await readFile(join(dir, 'pool-report/pool-analytics.html'), 'utf8');
    expect(html).toContain('checkout &lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img src=x');

    const report = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as { suites: JsonSuite[] };
    const entry = findSpec(report.suites, ANALYTICS_TEST_TITLE);
    expect(entry?.projectName).toBe('container-pool-analytics');
    const last = entry!.results[0]!;
    expect(last.status).toBe('passed');
    const annotations = [...entry!.annotations, ...(last.annotations ?? [])].map((a) => a.type);
    expect(annotations).toEqual(expect.arrayContaining(['pool.containers', 'pool.allocations', 'pool.wait', 'pool.timeouts', 'pool.extensions', 'pool.health', 'pool.recommendation']));
    expect(last.attachments.map((a) => a.name)).toEqual(expect.arrayContaining(['pool-analytics.html', 'pool-analytics.json', 'pool-audit.jsonl']));

    // The page attached to the report has the per-test timings the reporter handed over through the file.
    // The JSON reporter inlines attachments given as a body (base64).
    const attachedHtml = Buffer.from(last.attachments.find((a) => a.name === 'pool-analytics.html')!.body ?? '', 'base64').toString('utf8');
    expect(attachedHtml).toContain('checkout &lt;img src=x onerror=alert(1)&gt;');
    expect(attachedHtml).toContain('shop › search');
    // The hand-over files do not outlive the run.
    await expect(readFile(join(dir, 'pool-report/.pool-test-timings.jsonl'))).rejects.toThrow();
  }, 120_000);

  it('still runs after a failing test and a --grep, and falls back to the analytics test when no snapshot is written', async () => {
    const result = await run({ E2E_FAIL: '1' }, ['--grep', 'breaks|checkout']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).not.toContain('pool reporter]');
    expect(result.stdout).toContain('Container pool analytics  (from the Container pool analytics test)');
    const report = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as { suites: JsonSuite[] };
    expect(findSpec(report.suites, ANALYTICS_TEST_TITLE)?.results[0]?.status).toBe('passed');
    expect(findSpec(report.suites, 'search')).toBeUndefined();
  }, 120_000);
});
