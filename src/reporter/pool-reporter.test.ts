import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FullConfig, FullResult, Suite } from '@playwright/test/reporter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureAudit } from '../../test/reporter/analytics-fixture.js';
import { fakeResult, fakeTest } from '../../test/reporter/fake-playwright.js';
import { ANALYTICS_PROJECT_NAME } from './analytics-project.js';
import { ANALYTICS_SNAPSHOT_ENV, writeAnalyticsSnapshot } from './analytics-snapshot.js';
import { type AnalyticsSource, CapturedSource } from './analytics-source.js';
import PoolAnalyticsReporter from './index.js';
import { TEST_TIMINGS_ENV } from './test-timings.js';
import { analyticsJson, auditJsonl } from './write-files.js';

const RESULT = { status: 'passed' } as FullResult;
const SUITE = {} as Suite;

function output() {
  const out = { text: '', write: (t: string) => void (out.text += t) };
  return out;
}

describe('PoolAnalyticsReporter', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let stdout: ReturnType<typeof output>;
  let stderr: ReturnType<typeof output>;
  const config = () => ({ rootDir: dir, configFile: join(dir, 'playwright.config.ts') }) as FullConfig;
  const make = (sources?: AnalyticsSource[], options: Record<string, unknown> = {}) =>
    new PoolAnalyticsReporter({ configDir: dir, outputDir: 'out', ...options }, { ...(sources ? { sources } : {}), env, stdout, stderr });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-reporter-'));
    env = {};
    stdout = output();
    stderr = output();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints to stdio', () => {
    expect(make().printsToStdio()).toBe(true);
  });

  it('writes the files and prints the summary from the first source with data', async () => {
    const captured = new CapturedSource();
    captured.capture({ analytics: fixtureAnalytics(), audit: fixtureAudit(), origin: 'test data' });
    const reporter = make([{ name: 'down', load: () => Promise.reject(new Error('ECONNREFUSED')) }, captured]);
    reporter.onBegin(config(), SUITE);
    reporter.onTestEnd(fakeTest({ title: 'pays', describe: ['checkout'], timeout: 20_000, annotations: [{ type: 'timeout.budgetMs', description: '20000' }] }), fakeResult({ duration: 19_000 }));
    await reporter.onEnd(RESULT);

    expect(stderr.text).toBe('');
    expect(stdout.text).toContain('Container pool analytics  (from test data)');
    expect(stdout.text).toContain('1 of 1 used over 80 % of their timeout');
    const out = join(dir, 'out');
    expect(JSON.parse(await readFile(join(out, 'pool-analytics.json'), 'utf8'))).toEqual(fixtureAnalytics());
    expect(await readFile(join(out, 'pool-audit.jsonl'), 'utf8')).toBe(auditJsonl(fixtureAudit()));
    expect(await readFile(join(out, 'pool-analytics.html'), 'utf8')).toContain('checkout › pays');
  });

  it('counts attempts whose member was revoked (host-lost, failover) and, with retries 0, says to set retries', async () => {
    const revoked = { type: 'cinnamon-pool', description: 'lease revoked: host-lost (member h1-1 on host h1)' };
    for (const retries of [0, 1]) {
      stdout = output();
      const reporter = make([]);
      reporter.onBegin({ ...config(), projects: [{ retries }] } as unknown as FullConfig, SUITE);
      reporter.onTestEnd(fakeTest({ title: 'a' }), fakeResult({ status: 'failed', annotations: [revoked] }));
      reporter.onTestEnd(fakeTest({ title: 'b' }), fakeResult());
      await reporter.onEnd(RESULT);
      expect(stdout.text).toContain(retries === 0 ? '1 test attempt lost its pool member under it (host-lost 1) and failed with retries 0: set `retries: 1`' : "(host-lost 1); Playwright's retries (1) re-ran them");
    }
    expect(stderr.text).toBe('');
  });

  it('hands the timings file and the snapshot path over through the environment, and removes them at the end', async () => {
    const reporter = make([]);
    reporter.onBegin(config(), SUITE);
    const timings = env[TEST_TIMINGS_ENV]!;
    expect(timings).toBe(join(dir, 'out/.pool-test-timings.jsonl'));
    expect(env[ANALYTICS_SNAPSHOT_ENV]).toBe(join(dir, 'out/.pool-snapshot.json'));
    reporter.onTestEnd(fakeTest({ title: 'a' }), fakeResult());
    expect((await readFile(timings, 'utf8')).trim().split('\n')).toHaveLength(1);
    await reporter.onEnd(RESULT);
    expect(existsSync(timings)).toBe(false);
  });

  it('reads the snapshot the teardown wrote, by default before asking the coordinator', async () => {
    const reporter = make();
    reporter.onBegin(config(), SUITE);
    await writeAnalyticsSnapshot(env[ANALYTICS_SNAPSHOT_ENV]!, { analytics: fixtureAnalytics(), audit: fixtureAudit() });
    env.CINNAMON_POOL_URL = 'http://127.0.0.1:9'; // would fail if it were asked first
    await reporter.onEnd(RESULT);
    expect(stdout.text).toContain('(from snapshot ');
    expect(existsSync(join(dir, 'out/pool-analytics.json'))).toBe(true);
  });

  it('keeps the analytics the analytics test attached, for when nothing else is left at onEnd', async () => {
    const reporter = make();
    reporter.onBegin(config(), SUITE);
    const attachments = [
      { name: 'pool-analytics.json', contentType: 'application/json', body: Buffer.from(analyticsJson(fixtureAnalytics())) },
      { name: 'pool-audit.jsonl', contentType: 'text/plain', body: Buffer.from(auditJsonl(fixtureAudit())) },
    ];
    reporter.onTestEnd(fakeTest({ title: 'Container pool analytics', project: ANALYTICS_PROJECT_NAME }), fakeResult({ attachments }));
    await reporter.onEnd(RESULT);
    expect(stderr.text).toBe('');
    expect(stdout.text).toContain('(from the Container pool analytics test)');
    // The analytics test is not one of the run's tests.
    expect(await readFile(join(dir, 'out/pool-analytics.html'), 'utf8')).not.toContain('All test runs (');
  });

  it('says which sources it tried when there are no analytics, and writes nothing', async () => {
    const reporter = make();
    reporter.onBegin(config(), SUITE);
    await reporter.onEnd(RESULT);
    expect(stdout.text).toContain('Container pool analytics: none available, no pool report written.');
    expect(stdout.text).toContain('snapshot: not available; coordinator: not available; analytics test: not available');
    expect(existsSync(join(dir, 'out/pool-analytics.json'))).toBe(false);
  });

  describe('never throws into the run', () => {
    it('survives a failing hook and reports the error once', async () => {
      const reporter = make([]);
      reporter.onBegin(config(), SUITE);
      const broken = { ...fakeTest({ title: 'x' }), titlePath: () => { throw new Error('titlePath exploded'); } } as unknown as ReturnType<typeof fakeTest>;
      expect(() => {
        for (let i = 0; i < 3; i++) reporter.onTestEnd(broken, fakeResult());
      }).not.toThrow();
      await expect(reporter.onEnd(RESULT)).resolves.toBeUndefined();
      expect(stderr.text.match(/titlePath exploded/g)).toHaveLength(1);
      expect(stderr.text).toContain('[cinnamon-qa pool reporter] onTestEnd failed; the test run is not affected');
      expect(stderr.text).toContain('further errors not shown: 2 more in onTestEnd.');
    });

    it('survives a bad config object in onBegin', () => {
      const reporter = make([]);
      expect(() => reporter.onBegin(null as unknown as FullConfig, SUITE)).not.toThrow();
      expect(stderr.text).toContain('onBegin failed');
    });

    it('survives files that cannot be written', async () => {
      await writeFile(join(dir, 'out'), 'a file where the folder should be');
      const captured = new CapturedSource();
      captured.capture({ analytics: fixtureAnalytics(), audit: [], origin: 'test data' });
      const reporter = make([captured]);
      reporter.onBegin(config(), SUITE);
      await expect(reporter.onEnd(RESULT)).resolves.toBeUndefined();
      expect(stderr.text).toContain('onEnd failed');
    });

    it('survives a sink that throws', async () => {
      const captured = new CapturedSource();
      captured.capture({ analytics: fixtureAnalytics(), audit: [], origin: 'test data' });
      const throwing = { write: () => { throw new Error('EPIPE'); } };
      const reporter = new PoolAnalyticsReporter({ configDir: dir }, { sources: [captured], env, stdout: throwing, stderr: throwing });
      reporter.onBegin(config(), SUITE);
      await expect(reporter.onEnd(RESULT)).resolves.toBeUndefined();
    });

    it('reports bad options and goes on with the defaults', async () => {
      const reporter = new PoolAnalyticsReporter({ configDir: dir, outputDir: 3, open: 'always' }, { sources: [], env, stdout, stderr });
      expect(stderr.text).toMatch(/options failed[\s\S]*outputDir/);
      reporter.onBegin(config(), SUITE);
      expect(env[TEST_TIMINGS_ENV]).toBe(join(dir, 'pool-report/.pool-test-timings.jsonl'));
    });
  });
});
