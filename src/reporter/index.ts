/**
 * Entry point `@cinnamon-qa/containers/reporter`. The default export is the Playwright reporter:
 *
 *   reporter: [['list'], ['@cinnamon-qa/containers/reporter', { outputDir: 'pool-report' }]]
 *
 * The named exports are for `withContainerPool` and globalSetup: the analytics teardown project and the
 * snapshot hand-over.
 */
import { PoolAnalyticsReporter } from './pool-reporter.js';

export default PoolAnalyticsReporter;
export { PoolAnalyticsReporter };
export type { PoolReporterDeps } from './pool-reporter.js';
export type { PoolReporterOptions, PoolReporterOptionsInput } from './reporter-options.js';
export { DEFAULT_POOL_REPORT_DIR } from './reporter-options.js';
export { ANALYTICS_PROJECT_NAME, ANALYTICS_TEST_TITLE, addAnalyticsProject, analyticsProject } from './analytics-project.js';
export { ANALYTICS_SNAPSHOT_ENV, writeAnalyticsSnapshot } from './analytics-snapshot.js';
export type { AnalyticsSnapshot } from './analytics-snapshot.js';
