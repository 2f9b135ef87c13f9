import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixtureAnalytics, fixtureAudit } from '../../test/reporter/analytics-fixture.js';
import type { AuditEvent } from '../store/pool-store.js';
import { writeReportFiles } from '../reporter/write-files.js';
import { DEFAULT_MERGED_REPORT_DIR, parseMergeReports } from './merge-reports-args.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** `npx tsx src/cli/main.ts merge-reports ...` from the checkout, as a user runs it; never rejects. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('npx', ['tsx', 'src/cli/main.ts', 'merge-reports', ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: '1' } }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The fixture pool's trail as another pool would have written it: its own lease ids, nothing shared. */
function anotherPoolsAudit(): AuditEvent[] {
  return fixtureAudit().map((e) => (typeof e.detail?.leaseId === 'string' ? { ...e, detail: { ...e.detail, leaseId: `other-${e.detail.leaseId}` } } : e));
}

// Each test starts tsx (a compile and a Node start, about 2 s on a quiet machine): a budget that holds with both
// cores busy. Nothing here is timed.
describe('cinnamon-pool merge-reports (through npx tsx src/cli/main.ts)', { timeout: 90_000 }, () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'merge-reports-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const shard = (name: string, audit: AuditEvent[], laterBy = 0) =>
    writeReportFiles(join(dir, name), { analytics: { ...fixtureAnalytics(), generatedAt: fixtureAnalytics().generatedAt + laterBy }, audit });
  const mergedJson = async () => JSON.parse(await readFile(join(dir, 'merged/pool-analytics.json'), 'utf8')) as ReturnType<typeof fixtureAnalytics>;
  const mergedLines = async () => (await readFile(join(dir, 'merged/pool-audit.jsonl'), 'utf8')).trim().split('\n');

  it('merges two shards of one shared store without counting anything twice', async () => {
    await shard('shard-1', fixtureAudit());
    await shard('shard-2', fixtureAudit(), 1_000);
    const run = await cli([join(dir, 'shard-1'), join(dir, 'shard-2'), '--output', join(dir, 'merged')]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Merged 2 shard reports (shard-1, shard-2)');
    expect(run.stdout).toContain("one pool store (their audit trails share lease or run events): its counters and containers are the newest report's (shard-2)");
    expect(run.stdout).toContain('Recommendations (');
    expect((await mergedJson()).poolMetrics.totalAllocations).toBe(fixtureAnalytics().poolMetrics.totalAllocations);
    expect(await mergedLines()).toHaveLength(fixtureAudit().length);
    expect(await readFile(join(dir, 'merged/pool-analytics.html'), 'utf8')).toContain('<title>Container pool analytics</title>');
  });

  it('adds shards that ran separate pools', async () => {
    await shard('shard-1', fixtureAudit());
    await shard('shard-2', anotherPoolsAudit());
    const run = await cli([join(dir, 'shard-1'), join(dir, 'shard-2'), '-o', join(dir, 'merged')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('2 separate pool stores (no lease or run event in common): their counters and containers are added');
    const merged = await mergedJson();
    expect(merged.poolMetrics.totalAllocations).toBe(2 * fixtureAnalytics().poolMetrics.totalAllocations);
    expect(merged.poolMetrics.totalContainers).toBe(2 * fixtureAnalytics().poolMetrics.totalContainers);
    expect(await mergedLines()).toHaveLength(2 * fixtureAudit().length);
  });

  it('exits 1 naming the unreadable file, and writes nothing', async () => {
    await shard('shard-1', fixtureAudit());
    await shard('shard-2', fixtureAudit());
    await rm(join(dir, 'shard-2/pool-audit.jsonl'));
    const run = await cli([join(dir, 'shard-1'), join(dir, 'shard-2'), '--output', join(dir, 'merged')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${join(dir, 'shard-2/pool-audit.jsonl')} is missing`);
    expect(run.stderr).toContain('Nothing written');
    await expect(stat(join(dir, 'merged'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  const grouped = (name: string, audit: AuditEvent[], runGroup: string) => writeReportFiles(join(dir, name), { analytics: { ...fixtureAnalytics(), runGroup }, audit });

  it('merges the shards of one run group into a report of that group', async () => {
    await grouped('shard-1', fixtureAudit(), 'github:100-1');
    await grouped('shard-2', fixtureAudit(), 'github:100-1');
    const same = await cli([join(dir, 'shard-1'), join(dir, 'shard-2'), '-o', join(dir, 'merged')]);
    expect(same.stderr).toBe('');
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('run group github:100-1: every report is of this build');
    expect(same.stdout).toContain('Container pool analytics · run group github:100-1');
    expect((await mergedJson()).runGroup).toBe('github:100-1');
  });

  it('exits 1 naming the run groups when reports of two builds are given, and writes nothing', async () => {
    await grouped('shard-1', fixtureAudit(), 'github:100-1');
    await grouped('shard-3', anotherPoolsAudit(), 'github:200-1');
    const mixed = await cli([join(dir, 'shard-1'), join(dir, 'shard-3'), '-o', join(dir, 'merged-mixed')]);
    expect(mixed.code).toBe(1);
    expect(mixed.stderr).toContain('The reports are of 2 run groups');
    expect(mixed.stderr).toContain('github:100-1 (shard-1); github:200-1 (shard-3). Nothing merged.');
    await expect(stat(join(dir, 'merged-mixed'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('exits 2 on bad usage', async () => {
    const run = await cli([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("'merge-reports' needs the shards' report folders");
    expect(run.stderr).toContain('merge-reports DIR...');
  });
});

describe('parseMergeReports', () => {
  const usage = (message: string): never => {
    throw new Error(`usage: ${message}`);
  };

  it('takes folders and an output folder, with a default', () => {
    expect(parseMergeReports(['a', 'b'], usage)).toEqual({ kind: 'merge-reports', dirs: ['a', 'b'], outputDir: DEFAULT_MERGED_REPORT_DIR });
    expect(parseMergeReports(['a', '--output', 'out', 'b'], usage)).toEqual({ kind: 'merge-reports', dirs: ['a', 'b'], outputDir: 'out' });
  });

  it('refuses no folder, a folder twice, an output that is a shard folder, unknown flags', () => {
    expect(() => parseMergeReports([], usage)).toThrow(/usage: 'merge-reports' needs/);
    expect(() => parseMergeReports(['a', './a/'], usage)).toThrow(/usage: '.\/a\/' is the same folder as 'a'/);
    expect(() => parseMergeReports(['a', 'b', '--output', 'b/'], usage)).toThrow(/usage: --output 'b\/' is the shard folder 'b'/);
    expect(() => parseMergeReports(['a', '--json'], usage)).toThrow(/usage: .*--json/);
  });
});
