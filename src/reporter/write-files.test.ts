import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureAudit, fixtureTests } from '../../test/reporter/analytics-fixture.js';
import { readAnalyticsSnapshot, writeAnalyticsSnapshot } from './analytics-snapshot.js';
import { appendTiming, readTimingsFile, resetTimingsFile } from './test-timings.js';
import { auditJsonl, writeReportFiles } from './write-files.js';

describe('writeReportFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-report-files-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the SystemAnalytics shape, every audit event as one JSON line, and the page', async () => {
    const analytics = fixtureAnalytics();
    const audit = fixtureAudit();
    const files = await writeReportFiles(join(dir, 'nested/pool-report'), { analytics, audit, tests: fixtureTests() });

    expect(files.json).toBe(join(dir, 'nested/pool-report/pool-analytics.json'));
    const json = JSON.parse(await readFile(files.json, 'utf8'));
    expect(json).toEqual(analytics);
    expect(Object.keys(json)).toEqual(
      expect.arrayContaining(['poolMetrics', 'resourceMetrics', 'timeoutMetrics', 'health', 'degradation', 'optimizationRecommendations', 'allocations']),
    );
    expect(json.allocations[0]).toMatchObject({ testRunId: 'worker-0:checkout', priority: 'critical', containerId: 'cinnamon-qa-mcp-1', waitMs: 40 });

    const lines = (await readFile(files.jsonl, 'utf8')).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(audit);

    expect(await readFile(files.html, 'utf8')).toContain('<title>Container pool analytics</title>');
  });

  it('writes an empty JSONL file for an empty audit trail', () => {
    expect(auditJsonl([])).toBe('');
  });
});

describe('analytics snapshot', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pool-snapshot-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips and reports a missing file as absent', async () => {
    const file = join(dir, 'sub/snap.json');
    expect(await readAnalyticsSnapshot(file)).toBeUndefined();
    await writeAnalyticsSnapshot(file, { analytics: fixtureAnalytics(), audit: fixtureAudit() }, 42);
    const back = await readAnalyticsSnapshot(file);
    expect(back).toMatchObject({ version: 1, writtenAt: 42 });
    expect(back?.analytics).toEqual(fixtureAnalytics());
    expect(back?.audit).toEqual(fixtureAudit());
  });
});

describe('timings file', () => {
  it('reads what was appended and skips a torn last line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pool-timings-'));
    const file = join(dir, 'timings.jsonl');
    resetTimingsFile(file);
    const [a, b] = fixtureTests();
    appendTiming(file, a!);
    appendTiming(file, b!);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(file, '{"id":"torn","dura');
    expect(readTimingsFile(file)).toEqual([a, b]);
    expect(readTimingsFile(join(dir, 'missing'))).toEqual([]);
    expect(readTimingsFile(undefined)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});
