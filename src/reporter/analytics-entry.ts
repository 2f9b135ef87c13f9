import type { TestInfo } from '@playwright/test';
import { POOL_URL_ENV } from '../protocol/env-names.js';
import { type AnalyticsSource, coordinatorSourceFromEnv } from './analytics-source.js';
import { headlineFigures, severityLabel } from './headline.js';
import { renderHtmlReport } from './html-report.js';
import { leaseTimelineChart, waitByPriorityChart } from './svg-charts.js';
import { readTimingsFile, TEST_TIMINGS_ENV } from './test-timings.js';
import { ANALYTICS_HTML_FILE, ANALYTICS_JSON_FILE, AUDIT_JSONL_FILE, analyticsJson, auditJsonl } from './write-files.js';

export const LEASES_SVG_FILE = 'pool-leases-per-container.svg';
export const WAIT_SVG_FILE = 'pool-wait-by-priority.svg';
/** Width at which Playwright's HTML report (1.65) shows an image attachment on a desktop screen, px. */
const REPORT_IMAGE_WIDTH = 740;

/** What the entry needs of Playwright's TestInfo (a narrow seam for unit tests). */
export type AnalyticsTestInfo = Pick<TestInfo, 'annotations' | 'attach' | 'skip'>;

export interface AnalyticsEntryDeps {
  source?: AnalyticsSource;
  env?: NodeJS.ProcessEnv;
}

/**
 * Body of the "Container pool analytics" test. Fetches the analytics from this run's coordinator, adds the
 * headline figures and the recommendations as annotations (the report lists them at the top of the test)
 * and attaches the HTML page, the JSON and the audit trail.
 *
 * When there is nothing to fetch the test is skipped with the reason, not failed: the pool report is a
 * by-product and must not turn a green run red.
 */
export async function recordPoolAnalytics(testInfo: AnalyticsTestInfo, deps: AnalyticsEntryDeps = {}): Promise<void> {
  const env = deps.env ?? process.env;
  const source = deps.source ?? coordinatorSourceFromEnv(env);
  let data;
  try {
    data = await source.load();
  } catch (error) {
    const reason = `Container pool analytics could not be fetched: ${error instanceof Error ? error.message : String(error)}`;
    testInfo.annotations.push({ type: 'pool.analytics', description: reason });
    testInfo.skip(true, reason);
    return;
  }
  if (!data) {
    testInfo.skip(true, `No container pool in this run (${POOL_URL_ENV} is not set): the pool's globalSetup did not run.`);
    return;
  }
  const { analytics, audit } = data;
  const tests = readTimingsFile(env[TEST_TIMINGS_ENV]);

  for (const figure of headlineFigures(analytics)) testInfo.annotations.push({ type: figure.key, description: `${figure.value} — ${figure.detail}` });
  for (const r of analytics.optimizationRecommendations) {
    testInfo.annotations.push({ type: `pool.recommendation`, description: `${severityLabel(r.severity)} · ${r.title}: ${r.suggestedAction}` });
  }

  const containers = Object.keys(analytics.resourceMetrics.utilizationTrend[0]?.perContainer ?? {});
  // Images are shown inline by the HTML report: the two charts a reader needs first, without opening anything.
  // Drawn at the width the report shows images at, so their text is not scaled down.
  // Names end in .svg: the HTML report takes a saved attachment's file extension from its name.
  await testInfo.attach(LEASES_SVG_FILE, {
    body: leaseTimelineChart({ allocations: analytics.allocations, containers, startedAt: analytics.startedAt, endedAt: analytics.generatedAt, width: REPORT_IMAGE_WIDTH }),
    contentType: 'image/svg+xml',
  });
  await testInfo.attach(WAIT_SVG_FILE, { body: waitByPriorityChart(analytics.resourceMetrics.allocationPatterns.byPriority, REPORT_IMAGE_WIDTH), contentType: 'image/svg+xml' });
  await testInfo.attach(ANALYTICS_HTML_FILE, { body: renderHtmlReport({ analytics, audit, tests, origin: 'this run’s coordinator' }), contentType: 'text/html' });
  await testInfo.attach(ANALYTICS_JSON_FILE, { body: analyticsJson(analytics), contentType: 'application/json' });
  await testInfo.attach(AUDIT_JSONL_FILE, { body: auditJsonl(audit), contentType: 'text/plain' });
}
