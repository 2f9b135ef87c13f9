import { basename, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Project } from '@playwright/test';

/** Name of the teardown project that puts the pool's analytics into Playwright's HTML report. */
export const ANALYTICS_PROJECT_NAME = 'container-pool-analytics';
/** Title of its one test: the entry a reader finds in the HTML report. */
export const ANALYTICS_TEST_TITLE = 'Container pool analytics';

/**
 * The spec file the project runs, shipped next to this module. Its name matches no default testMatch
 * (`*.spec.*`, `*.test.*`), so a user project whose testDir happens to include it never runs it.
 */
export function analyticsSpecFile(): string {
  const here = fileURLToPath(import.meta.url);
  // Same extension as this module: .ts when run from source, .js from the published dist.
  return `${dirname(here)}/pool-analytics.teardown${extname(here)}`;
}

/** Never matches a title: overrides a top-level grepInvert the project would otherwise inherit. */
const MATCHES_NOTHING = /(?!)/;

/**
 * The "Container pool analytics" project. Playwright's HTML reporter cannot be extended, so the analytics
 * reach it as a test: a teardown project (no dependencies, allowed by Playwright only that way) that runs
 * after every other project, fetches the analytics from the coordinator (still up: global teardown comes
 * later), and annotates and attaches them.
 *
 * Everything a project would inherit from the top-level config and that could stop or skew the test is set
 * explicitly: testIgnore (the file may live under node_modules), grep/grepInvert, retries, timeout, workers.
 */
export function analyticsProject(): Project {
  const file = analyticsSpecFile();
  return {
    name: ANALYTICS_PROJECT_NAME,
    testDir: dirname(file),
    testMatch: basename(file),
    testIgnore: [],
    grep: /.*/,
    grepInvert: MATCHES_NOTHING,
    retries: 0,
    repeatEach: 1,
    timeout: 60_000,
    workers: 1,
    fullyParallel: false,
  };
}

/**
 * Adds the analytics project to a config's projects and makes it the teardown of each of them, so that it
 * runs last, also when tests failed, and also when the run is narrowed with `--project`.
 *
 * - A project without a teardown gets this one.
 * - A project with its own teardown keeps it; that teardown project gets this one (if it has none), so the
 *   analytics still run after it.
 * - No projects (a top-level-only config): one unnamed project takes the top-level settings, as Playwright's
 *   implicit project would.
 */
export function addAnalyticsProject(projects: readonly Project[] | undefined): Project[] {
  const existing = (projects ?? []).filter((p) => p.name !== ANALYTICS_PROJECT_NAME);
  const base: Project[] = existing.length ? [...existing] : [{}];
  const withTeardown = base.map((p) => (p.teardown ? p : { ...p, teardown: ANALYTICS_PROJECT_NAME }));
  return [...withTeardown, analyticsProject()];
}
