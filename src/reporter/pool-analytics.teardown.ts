/*
 * The one test of the "container-pool-analytics" teardown project (see analytics-project.ts): it puts the
 * pool's analytics into Playwright's HTML report. Runs in a worker after every other project has finished,
 * while the coordinator is still up.
 */
import { test } from '@playwright/test';
import { recordPoolAnalytics } from './analytics-entry.js';
import { ANALYTICS_TEST_TITLE } from './analytics-project.js';

test(ANALYTICS_TEST_TITLE, async ({}, testInfo) => {
  // One boxed step: the report shows "Collect the pool analytics" instead of five attach steps pointing into
  // this package's files.
  await test.step('Collect the pool analytics', () => recordPoolAnalytics(testInfo), { box: true });
});
