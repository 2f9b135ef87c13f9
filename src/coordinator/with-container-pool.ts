import { existsSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlaywrightTestConfig, ReporterDescription } from '@playwright/test';
import { addAnalyticsProject } from '../reporter/analytics-project.js';
import { parseContainerPoolOptions, type ContainerPoolOptions } from './container-pool-options.js';

/** Key under `config.metadata` where the pool options travel to globalSetup. */
export const POOL_METADATA_KEY = 'cinnamonPool';

/** Package names of our entry points, recognised when a user already lists them by hand. */
const GLOBAL_SETUP_ENTRY = '@cinnamon-qa/containers/global-setup';
const REPORTER_ENTRY = '@cinnamon-qa/containers/reporter';

/**
 * Wires the container pool into a Playwright config:
 * - validates `options` now (a typo fails at config load, naming the bad path);
 * - puts them in `metadata.cinnamonPool` (not enumerable: JSON and HTML reports print metadata, and a
 *   redisUrl may carry a password);
 * - adds our globalSetup after any the config has (it starts the pool and returns its teardown);
 * - adds our reporter after the config's reporters (Playwright's default one is kept when none is set);
 * - adds the "Container pool analytics" teardown project that puts the analytics in the HTML report, when the
 *   config writes one (an `html` or `blob` reporter): the project runs in a worker of its own at the end of the
 *   run (≈ 1 s), which a run without such a report would pay for nothing.
 * Running it twice on one config changes nothing the second time.
 */
export function withContainerPool<T extends PlaywrightTestConfig>(config: T, options: ContainerPoolOptions = {}): T {
  parseContainerPoolOptions(options);
  const metadata: Record<string, unknown> = { ...(config.metadata ?? {}) };
  Object.defineProperty(metadata, POOL_METADATA_KEY, { value: options, enumerable: false, configurable: true, writable: true });
  return {
    ...config,
    metadata,
    globalSetup: withGlobalSetup(config.globalSetup),
    reporter: withReporter(config.reporter),
    ...(writesReport(config.reporter) ? { projects: addAnalyticsProject(config.projects) } : {}),
  };
}

/** Reporters whose output shows the analytics entry: Playwright's HTML report, and blob reports merged into one. */
const ENTRY_REPORTERS: ReadonlySet<string> = new Set(['html', 'blob']);

/**
 * Whether the config's reporters write a report the analytics entry appears in. Read from the config alone, not
 * from `--reporter` on the command line: workers evaluate the config without the command line, and must find the
 * same projects as the runner.
 */
function writesReport(reporter: PlaywrightTestConfig['reporter']): boolean {
  if (reporter === undefined) return false;
  const names = typeof reporter === 'string' ? [reporter] : reporter.map(([name]) => name);
  return names.some((name) => ENTRY_REPORTERS.has(name));
}

/** The options withContainerPool stored in a config's metadata (enumerable or not), or undefined. */
export function poolOptionsFromMetadata(metadata: unknown): unknown {
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  return (metadata as Record<string, unknown>)[POOL_METADATA_KEY];
}

function withGlobalSetup(existing: string | string[] | undefined): string[] {
  const ours = siblingModule('global-setup');
  const list = existing === undefined ? [] : Array.isArray(existing) ? [...existing] : [existing];
  if (list.some((s) => s === ours || s === GLOBAL_SETUP_ENTRY)) return list;
  // Last: the user's own setup (a web server check, seeding) runs before containers start.
  return [...list, ours];
}

function withReporter(existing: PlaywrightTestConfig['reporter']): ReporterDescription[] {
  const ours = reporterModule();
  const list: ReporterDescription[] =
    existing === undefined
      ? // What Playwright would use when the config names none: keep it, ours only adds a summary.
        [[process.env.CI ? 'dot' : 'list']]
      : typeof existing === 'string'
        ? [[existing]]
        : [...existing];
  if (!ours || list.some(([name]) => name === ours || name === REPORTER_ENTRY)) return list;
  return [...list, [ours]];
}

/** A module next to this one, as .js when built or .ts when run from source (Playwright compiles TS itself). */
function siblingModule(name: string): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), `${name}${extname(here)}`);
}

function reporterModule(): string | undefined {
  const here = fileURLToPath(import.meta.url);
  const file = join(dirname(here), '..', 'reporter', `index${extname(here)}`);
  return existsSync(file) ? file : undefined;
}
