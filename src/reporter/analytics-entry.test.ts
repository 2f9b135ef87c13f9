import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureAudit } from '../../test/reporter/analytics-fixture.js';
import { type AnalyticsTestInfo, recordPoolAnalytics } from './analytics-entry.js';
import { addAnalyticsProject, ANALYTICS_PROJECT_NAME, analyticsProject, analyticsSpecFile } from './analytics-project.js';
import type { AnalyticsSource } from './analytics-source.js';

/** Records what the entry does to TestInfo; skip() throws like Playwright's to stop the test body. */
function fakeTestInfo() {
  const attachments: Array<{ name: string; contentType?: string; body: string }> = [];
  const skips: string[] = [];
  const info = {
    annotations: [] as Array<{ type: string; description?: string }>,
    attach: async (name: string, options: { body?: string | Buffer; contentType?: string }) => {
      attachments.push({ name, ...(options.contentType ? { contentType: options.contentType } : {}), body: String(options.body) });
    },
    skip: (condition: boolean, description: string) => {
      if (condition) skips.push(description);
    },
  };
  return { info: info as unknown as AnalyticsTestInfo, annotations: info.annotations, attachments, skips };
}

const source = (load: AnalyticsSource['load']): AnalyticsSource => ({ name: 'test', load });

describe('recordPoolAnalytics', () => {
  it('annotates the headline figures and recommendations and attaches page, JSON, audit and two charts', async () => {
    const t = fakeTestInfo();
    await recordPoolAnalytics(t.info, { env: {}, source: source(async () => ({ analytics: fixtureAnalytics(), audit: fixtureAudit(), origin: 'x' })) });
    expect(t.skips).toEqual([]);
    const byType = Object.fromEntries(t.annotations.map((a) => [a.type, a.description]));
    expect(byType['pool.containers']).toBe('2 — 86 % utilised · run 2 m 00 s');
    expect(byType['pool.wait']).toBe('p95 30.1 s — average 12.8 s');
    expect(byType['pool.extensions']).toBe('3 granted — 1 denied');
    expect(t.annotations.filter((a) => a.type === 'pool.recommendation')).toHaveLength(fixtureAnalytics().optimizationRecommendations.length);
    expect(t.annotations.find((a) => a.type === 'pool.recommendation')?.description).toMatch(/^CRITICAL · Tests wait long for a container: Raise the pool/);
    expect(t.attachments.map((a) => [a.name, a.contentType])).toEqual([
      ['pool-leases-per-container.svg', 'image/svg+xml'],
      ['pool-wait-by-priority.svg', 'image/svg+xml'],
      ['pool-analytics.html', 'text/html'],
      ['pool-analytics.json', 'application/json'],
      ['pool-audit.jsonl', 'text/plain'],
    ]);
    expect(JSON.parse(t.attachments[3]!.body)).toEqual(fixtureAnalytics());
  });

  it('skips with the reason when the coordinator cannot be reached, or when there is no pool', async () => {
    const failed = fakeTestInfo();
    await recordPoolAnalytics(failed.info, { env: {}, source: source(() => Promise.reject(new Error('connect ECONNREFUSED'))) });
    expect(failed.skips).toEqual(['Container pool analytics could not be fetched: connect ECONNREFUSED']);
    expect(failed.attachments).toEqual([]);

    const none = fakeTestInfo();
    await recordPoolAnalytics(none.info, { env: {} });
    expect(none.skips[0]).toMatch(/No container pool in this run \(CINNAMON_POOL_URL is not set\)/);
  });
});

describe('analyticsProject', () => {
  it('runs the shipped spec file, whatever the top-level config says', () => {
    const project = analyticsProject();
    expect(project).toMatchObject({ name: ANALYTICS_PROJECT_NAME, testMatch: 'pool-analytics.teardown.ts', testIgnore: [], retries: 0, workers: 1, repeatEach: 1 });
    expect(existsSync(analyticsSpecFile())).toBe(true);
    expect((project.grepInvert as RegExp).test('Container pool analytics')).toBe(false);
    expect(project.dependencies).toBeUndefined();
  });
});

describe('addAnalyticsProject', () => {
  it('becomes the teardown of every project, chaining after a teardown a project already has', () => {
    const projects = addAnalyticsProject([{ name: 'setup', teardown: 'cleanup' }, { name: 'cleanup' }, { name: 'e2e', dependencies: ['setup'] }]);
    expect(projects.map((p) => [p.name, p.teardown])).toEqual([
      ['setup', 'cleanup'],
      ['cleanup', ANALYTICS_PROJECT_NAME],
      ['e2e', ANALYTICS_PROJECT_NAME],
      [ANALYTICS_PROJECT_NAME, undefined],
    ]);
  });

  it('gives a config without projects one that takes the top-level settings, and is idempotent', () => {
    const once = addAnalyticsProject(undefined);
    expect(once).toEqual([{ teardown: ANALYTICS_PROJECT_NAME }, analyticsProject()]);
    expect(addAnalyticsProject(once).map((p) => p.name)).toEqual([undefined, ANALYTICS_PROJECT_NAME]);
  });
});
