/**
 * The entry point for playwright.config.ts, `@cinnamon-qa/containers/config`: withContainerPool and its options,
 * nothing else. Playwright evaluates the config again in every worker, so what the config imports is loaded by
 * each of them before its first test; this entry loads about 13 of the package's modules where the package root
 * (the whole programmatic API) loads about 160, which cost each worker 0.3–0.5 s on this project's 2-core
 * machines (issue 13).
 */
export { withContainerPool } from './coordinator/with-container-pool.js';
export type { ContainerPoolOptions } from './coordinator/container-pool-options.js';
