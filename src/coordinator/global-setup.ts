/**
 * Entry point `@cinnamon-qa/containers/global-setup`: Playwright's globalSetup that starts the run's
 * container pool and its coordinator, and returns the teardown that stops them. `withContainerPool` adds it;
 * it also works listed by hand, with the options in `metadata.cinnamonPool`.
 */
import { dirname } from 'node:path';
import type { FullConfig } from '@playwright/test';
import { ANALYTICS_SNAPSHOT_ENV, writeAnalyticsSnapshot } from '../reporter/analytics-snapshot.js';
import { parseContainerPoolOptions } from './container-pool-options.js';
import { POOL_APP_HOST_ENV, POOL_MAX_WAIT_ENV, POOL_RUN_GROUP_ENV, POOL_RUN_MODE_ENV, POOL_TOKEN_ENV, POOL_URL_ENV } from '../protocol/env-names.js';
import { PoolRun } from './pool-run.js';
import { SignalGuard, signalExitCode, type StopSignal } from './signal-guard.js';
import { poolOptionsFromMetadata } from './with-container-pool.js';

/** @defaultValue 30000 ms: after SIGTERM/SIGHUP, how long stopping may take before the process exits anyway. */
const SIGNAL_STOP_BUDGET_MS = 30_000;

export default async function globalSetup(config: FullConfig): Promise<() => Promise<void>> {
  const { pool, plugin } = parseContainerPoolOptions(poolOptionsFromMetadata(config.metadata) ?? {});
  const baseDir = config.configFile ? dirname(config.configFile) : config.rootDir;
  const interrupted = new AbortController();
  let run: PoolRun | undefined;
  let exiting = false;

  // SIGINT: Playwright itself stops the run and then calls our teardown, so during the run we leave it to
  // Playwright; during start we abort the start (Playwright would not call a teardown we have not returned).
  // SIGTERM/SIGHUP: Playwright does not handle them; the process would die with every container running.
  const onSignal = (signal: StopSignal) => {
    if (!run) {
      interrupted.abort();
      if (signal !== 'SIGINT') exiting = true;
      return;
    }
    if (signal === 'SIGINT' || exiting) return;
    exiting = true;
    const current = run;
    const exit = () => process.exit(signalExitCode(signal));
    setTimeout(exit, SIGNAL_STOP_BUDGET_MS).unref();
    void current.stop().then(exit, exit);
  };
  const signals = new SignalGuard(onSignal);

  try {
    run = await PoolRun.start({ pool, plugin, baseDir }, interrupted.signal);
  } catch (error) {
    signals.dispose();
    if (exiting) process.exit(signalExitCode('SIGTERM'));
    throw error;
  }

  process.env[POOL_URL_ENV] = run.coordinator.url;
  process.env[POOL_TOKEN_ENV] = run.coordinator.token;
  process.env[POOL_MAX_WAIT_ENV] = String(pool.resources.maxWaitTimeMs);
  // Set or cleared each time: UI and watch mode run globalSetup again in the same process.
  if (run.appHost) {
    process.env[POOL_RUN_MODE_ENV] = 'shared';
    process.env[POOL_APP_HOST_ENV] = run.appHost;
  } else {
    delete process.env[POOL_RUN_MODE_ENV];
    delete process.env[POOL_APP_HOST_ENV];
  }
  if (pool.runGroup !== undefined) process.env[POOL_RUN_GROUP_ENV] = pool.runGroup;
  else delete process.env[POOL_RUN_GROUP_ENV];

  const started = run;
  return async () => {
    try {
      await started.stop({
        // The reporter reads this file at onEnd: Playwright runs this teardown before reporters' onEnd.
        onSnapshot: async (snapshot) => {
          const file = process.env[ANALYTICS_SNAPSHOT_ENV];
          if (file) await writeAnalyticsSnapshot(file, { analytics: snapshot.analytics, audit: snapshot.audit });
        },
      });
    } finally {
      signals.dispose();
    }
  };
}
