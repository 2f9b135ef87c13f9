import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resourceConfigSchema, timeoutConfigObject } from '../config/schemas.js';
import { asPoolAuditEvents } from '../pool/audit-events.js';
import { computeAnalytics } from '../pool/pool-analytics.js';
import type { AuditEvent, ContainerRecord } from '../store/pool-store.js';
import { eventIdentity, groupByRunGroup, groupByStore, mergeShardReports, readShardReport, ReportMergeError, ReportReadError, shardLabels, type ShardReport } from './merge-reports.js';
import { writeReportFiles } from './write-files.js';

const T0 = Date.UTC(2026, 11, 2, 8, 0, 0);
let leaseSeq = 0;

/** A lease's two events: granted at `at` after `waitMs`, released `heldMs` later. */
function lease(actor: string, containerId: string, at: number, heldMs: number, waitMs = 10): AuditEvent[] {
  const leaseId = `lease-${++leaseSeq}`;
  return [
    { at, type: 'allocated', actor, containerId, outcome: 'ok', detail: { leaseId, token: leaseSeq, priority: 'normal', requestedAt: at - waitMs, waitMs, attempts: 0 } },
    { at: at + heldMs, type: 'released', actor, containerId, outcome: 'ok', detail: { leaseId, heldMs, priority: 'normal' } },
  ];
}

function started(runId: string, at: number): AuditEvent {
  return { at, type: 'pool-started', actor: 'coordinator', outcome: 'ok', detail: { containers: 2, durationMs: 900, runId } };
}

function container(id: string): ContainerRecord {
  return { id, name: id, port: 3001, state: 'Available', stateChangedAt: T0, limits: { memoryMB: 512, cpuPercent: 80 }, consecutiveFailures: 0 };
}

/**
 * What a shard's reporter writes when its run ends at `now`: computeAnalytics over the store's trail up to then,
 * with the store's cumulative counters. `keep` drops events as a capped store list would.
 */
function shardAt(label: string, trail: readonly AuditEvent[], now: number, opts: { keep?: (e: AuditEvent) => boolean; executions?: number[] } = {}): ShardReport {
  const audit = trail.filter((e) => e.at <= now && (opts.keep?.(e) ?? true));
  const seen = trail.filter((e) => e.at <= now);
  const count = (type: string) => seen.filter((e) => e.type === type).length;
  const analytics = computeAnalytics({
    now,
    startedAt: T0,
    containers: [container('container-1'), container('container-2')],
    queue: [],
    leases: [],
    counters: { allocations: count('allocated'), releases: count('released'), expirations: count('lease-expired'), revocations: 0, failedAllocations: 0, cancelledRequests: 0 },
    audit: asPoolAuditEvents(audit),
    executions: opts.executions ?? [],
    resources: resourceConfigSchema.parse({}),
    timeouts: timeoutConfigObject.parse({}),
    degradation: { active: false, reasons: [], sample: { queueSize: 0, averageWaitMs: 0, failureRate: 0 } },
  });
  return { label, dir: `/reports/${label}`, analytics, audit };
}

describe('mergeShardReports: one shared store (overlapping trails)', () => {
  // One Redis store; shard A ends at +2.5 s while lease 2 is still held, shard B ends at +5 s.
  const trail = [
    started('run-a', T0),
    ...lease('a:t1', 'container-1', T0 + 1_000, 500),
    ...lease('a:t2', 'container-2', T0 + 2_000, 1_000),
    ...lease('b:t1', 'container-1', T0 + 3_500, 800),
  ];
  const a = shardAt('shard-a', trail, T0 + 2_500);
  // B's copy of the list was trimmed at the front (the store caps its audit list): lease 1's grant is only in A.
  const b = shardAt('shard-b', trail, T0 + 5_000, { keep: (e) => e.detail?.leaseId !== 'lease-1' || e.type !== 'allocated' });

  it('groups the shards as one store and takes the counters of the newest snapshot, not their sum', () => {
    const merged = mergeShardReports([a, b]);
    expect(merged.stores).toEqual([{ labels: ['shard-a', 'shard-b'], latest: 'shard-b' }]);
    expect(a.analytics.poolMetrics.totalAllocations + b.analytics.poolMetrics.totalAllocations).toBe(5);
    expect(merged.analytics.poolMetrics.totalAllocations).toBe(3);
    expect(merged.analytics.poolMetrics.totalReleases).toBe(3);
    expect(merged.analytics.poolMetrics.totalContainers).toBe(2);
    expect(merged.qualifiedIds).toBe(false);
  });

  it('keeps each event once, ordered by time, and rebuilds leases that only the union has whole', () => {
    const merged = mergeShardReports([a, b]);
    expect(merged.audit).toHaveLength(trail.length);
    expect(new Set(merged.audit.map(eventIdentity)).size).toBe(trail.length);
    expect(merged.audit.map((e) => e.at)).toEqual(trail.map((e) => e.at));
    // Lease 1: granted in A's copy only; lease 2: released after A ended. Neither shard has all three whole.
    expect(a.analytics.allocations.filter((x) => x.releasedAt !== null)).toHaveLength(1);
    expect(b.analytics.allocations).toHaveLength(2);
    expect(merged.analytics.allocations.map((x) => [x.leaseId, x.endedBy])).toEqual([
      ['lease-1', 'released'],
      ['lease-2', 'released'],
      ['lease-3', 'released'],
    ]);
    expect(merged.analytics.resourceMetrics.allocationPatterns.byPriority.normal.count).toBe(3);
  });

  it('recognises the same event written with its keys in another order', () => {
    const reordered = { ...a, audit: a.audit.map((e) => JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(e).reverse()))) as AuditEvent) };
    expect(eventIdentity(reordered.audit[1]!)).toBe(eventIdentity(a.audit[1]!));
    expect(mergeShardReports([reordered, b]).audit).toHaveLength(trail.length);
  });

  it('does not depend on the order the folders are given in', () => {
    const ab = mergeShardReports([a, b]);
    const ba = mergeShardReports([b, a]);
    expect(ba.analytics.poolMetrics).toEqual(ab.analytics.poolMetrics);
    expect(ba.audit.map(eventIdentity)).toEqual(ab.audit.map(eventIdentity));
  });
});

describe('mergeShardReports: separate stores (disjoint trails)', () => {
  const poolOne = [started('run-1', T0), ...lease('1:t1', 'container-1', T0 + 1_000, 400), ...lease('1:t2', 'container-2', T0 + 1_200, 400)];
  const poolTwo = [
    started('run-2', T0 + 100),
    ...lease('2:t1', 'container-1', T0 + 900, 300),
    { at: T0 + 2_000, type: 'lease-expired', actor: 'coordinator', containerId: 'container-2', outcome: 'ok', detail: { leaseId: 'gone', expiresAt: T0 + 2_000 } },
  ] satisfies AuditEvent[];
  const one = shardAt('shard-1', poolOne, T0 + 3_000, { executions: [1_000, 1_000] });
  const two = shardAt('shard-2', poolTwo, T0 + 4_000, { executions: [4_000] });

  it('adds the counters and containers of each store and keeps both trails', () => {
    const merged = mergeShardReports([one, two]);
    expect(merged.stores.map((s) => s.labels)).toEqual([['shard-1'], ['shard-2']]);
    expect(merged.analytics.poolMetrics.totalAllocations).toBe(3);
    expect(merged.analytics.poolMetrics.totalContainers).toBe(4);
    expect(merged.analytics.health.leasesExpired).toBe(1);
    expect(merged.audit).toHaveLength(poolOne.length + poolTwo.length);
    expect(merged.analytics.allocations).toHaveLength(3);
  });

  it('prefixes container ids both pools use with the shard label, so per-container figures do not mix', () => {
    const merged = mergeShardReports([one, two]);
    expect(merged.qualifiedIds).toBe(true);
    expect(merged.analytics.allocations.map((x) => x.containerId).sort()).toEqual(['shard-1/container-1', 'shard-1/container-2', 'shard-2/container-1']);
    expect(Object.keys(merged.analytics.resourceMetrics.utilizationTrend.at(-1)!.perContainer).sort()).toEqual([
      'shard-1/container-1',
      'shard-1/container-2',
      'shard-2/container-1',
      'shard-2/container-2',
    ]);
  });

  it('weights execution averages by samples and names each store in its recommendations', () => {
    const merged = mergeShardReports([one, two]);
    expect(merged.analytics.timeoutMetrics.samples).toBe(3);
    expect(merged.analytics.timeoutMetrics.averageExecutionTime).toBe(2_000);
    const expired = merged.analytics.optimizationRecommendations.find((r) => r.rule === 'leases-expired');
    expect(two.analytics.optimizationRecommendations.map((r) => r.rule)).toContain('leases-expired');
    expect(expired?.title).toMatch(/^shard-2: /);
  });

  it('does not take two pools for one because an event without a lease or run id matches by chance', () => {
    const stopped: AuditEvent = { at: T0 + 2_900, type: 'pool-stopped', actor: 'coordinator', outcome: 'ok' };
    const merged = mergeShardReports([{ ...one, audit: [...one.audit, stopped] }, { ...two, audit: [...two.audit, { ...stopped }] }]);
    expect(merged.stores).toHaveLength(2);
    expect(merged.audit.filter((e) => e.type === 'pool-stopped')).toHaveLength(2);
  });

  it('joins a third shard to the store it shares events with', () => {
    const three = shardAt('shard-3', poolOne, T0 + 3_500);
    expect(groupByStore([one, two, three]).map((g) => g.map((s) => s.label))).toEqual([['shard-1', 'shard-3'], ['shard-2']]);
    expect(mergeShardReports([one, two, three]).analytics.poolMetrics.totalAllocations).toBe(3);
  });
});

describe('mergeShardReports: run groups', () => {
  // Two shards of one build that each ran their own pool (separate stores), and a third from another build.
  const poolOne = [started('run-1', T0), ...lease('1:t1', 'container-1', T0 + 1_000, 400)];
  const poolTwo = [started('run-2', T0 + 100), ...lease('2:t1', 'container-1', T0 + 900, 300)];
  const poolThree = [started('run-3', T0 + 200), ...lease('3:t1', 'container-1', T0 + 800, 300)];
  const inGroup = (shard: ShardReport, runGroup: string | undefined): ShardReport =>
    runGroup === undefined ? shard : { ...shard, analytics: { ...shard.analytics, runGroup } };
  const one = inGroup(shardAt('shard-1', poolOne, T0 + 3_000), 'github:100-1');
  const two = inGroup(shardAt('shard-2', poolTwo, T0 + 4_000), 'github:100-1');
  const other = inGroup(shardAt('shard-3', poolThree, T0 + 4_000), 'github:200-1');
  const local = shardAt('local', poolThree, T0 + 4_000);

  function refusal(shards: ShardReport[]): ReportMergeError {
    let caught: unknown;
    try {
      mergeShardReports(shards);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ReportMergeError);
    return caught as ReportMergeError;
  }

  it('merges the reports of one group into one report of that group (store rules unchanged inside it)', () => {
    const merged = mergeShardReports([one, two]);
    expect(merged.runGroup).toBe('github:100-1');
    expect(merged.analytics.runGroup).toBe('github:100-1');
    expect(merged.stores.map((s) => s.labels)).toEqual([['shard-1'], ['shard-2']]);
    expect(merged.analytics.poolMetrics.totalAllocations).toBe(2);
  });

  it('refuses reports of two groups, naming each group with its reports and the fix', () => {
    const error = refusal([one, other, two]);
    expect(error.code).toBe('RUN_GROUPS_DIFFER');
    expect(error.groups).toEqual([
      { runGroup: 'github:100-1', labels: ['shard-1', 'shard-2'] },
      { runGroup: 'github:200-1', labels: ['shard-3'] },
    ]);
    expect(error.message).toContain('The reports are of 2 run groups');
    expect(error.message).toContain('github:100-1 (shard-1, shard-2); github:200-1 (shard-3). Nothing merged.');
    expect(error.message).toContain('one merge-reports per run group');
    expect(error.message).toContain('CINNAMON_POOL_RUN_GROUP');
  });

  it('refuses a report without a group given with reports of one (a local run among a build)', () => {
    expect(refusal([local, one]).groups).toEqual([
      { runGroup: undefined, labels: ['local'] },
      { runGroup: 'github:100-1', labels: ['shard-1'] },
    ]);
    expect(refusal([local, one]).message).toContain('no run group (local)');
  });

  it('merges reports without a group as before: no group in the result', () => {
    const merged = mergeShardReports([shardAt('a', poolOne, T0 + 3_000), shardAt('b', poolTwo, T0 + 4_000)]);
    expect('runGroup' in merged).toBe(false);
    expect('runGroup' in merged.analytics).toBe(false);
    expect(merged.analytics.poolMetrics.totalAllocations).toBe(2);
  });

  it('groupByRunGroup lists groups in order of first appearance', () => {
    expect(groupByRunGroup([other, local, one, two]).map((g) => [g.runGroup, g.labels])).toEqual([
      ['github:200-1', ['shard-3']],
      [undefined, ['local']],
      ['github:100-1', ['shard-1', 'shard-2']],
    ]);
  });
});

describe('readShardReport', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'merge-reports-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const shard = shardAt('s', [started('run-x', T0), ...lease('x', 'container-1', T0 + 10, 10)], T0 + 100);

  async function failure(folder: string): Promise<ReportReadError> {
    const error = await readShardReport(folder, 's').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReportReadError);
    return error as ReportReadError;
  }

  it('reads back what the reporter wrote', async () => {
    await writeReportFiles(dir, { analytics: shard.analytics, audit: shard.audit });
    const back = await readShardReport(dir, 's');
    expect(back.audit).toEqual(shard.audit);
    expect(back.analytics.poolMetrics).toEqual(shard.analytics.poolMetrics);
  });

  it('reads the run group back, and refuses one the option would not allow', async () => {
    await writeReportFiles(dir, { analytics: { ...shard.analytics, runGroup: 'gitlab:4411' }, audit: shard.audit });
    expect((await readShardReport(dir, 's')).analytics.runGroup).toBe('gitlab:4411');
    await writeFile(join(dir, 'pool-analytics.json'), JSON.stringify({ ...shard.analytics, runGroup: 'two words' }));
    const bad = await failure(dir);
    expect(bad).toMatchObject({ code: 'REPORT_INVALID', file: join(dir, 'pool-analytics.json') });
    expect(bad.message).toContain('runGroup: must be 1-128 letters');
  });

  it('names a folder that is not there, and a missing file', async () => {
    expect(await failure(join(dir, 'nope'))).toMatchObject({ code: 'REPORT_MISSING', file: join(dir, 'nope') });
    await writeFile(join(dir, 'pool-analytics.json'), JSON.stringify(shard.analytics));
    const missing = await failure(dir);
    expect(missing).toMatchObject({ code: 'REPORT_MISSING', file: join(dir, 'pool-audit.jsonl') });
    expect(missing.message).toContain('pool-audit.jsonl is missing');
  });

  it('names the file and the field or line that is wrong', async () => {
    await writeReportFiles(dir, { analytics: shard.analytics, audit: shard.audit });
    await writeFile(join(dir, 'pool-analytics.json'), JSON.stringify({ ...shard.analytics, poolMetrics: { ...shard.analytics.poolMetrics, totalAllocations: 'many' } }));
    const badField = await failure(dir);
    expect(badField).toMatchObject({ code: 'REPORT_INVALID', file: join(dir, 'pool-analytics.json') });
    expect(badField.message).toContain('poolMetrics.totalAllocations');

    await writeReportFiles(dir, { analytics: shard.analytics, audit: shard.audit });
    await writeFile(join(dir, 'pool-audit.jsonl'), `${JSON.stringify(shard.audit[0])}\n{"at":"soon","type":"x","actor":"y","outcome":"ok"}\n`);
    const badLine = await failure(dir);
    expect(badLine).toMatchObject({ code: 'REPORT_INVALID', file: join(dir, 'pool-audit.jsonl') });
    expect(badLine.message).toMatch(/pool-audit\.jsonl line 2: not an audit event: at: /);

    await writeFile(join(dir, 'pool-audit.jsonl'), 'not json\n');
    expect((await failure(dir)).message).toMatch(/pool-audit\.jsonl line 1 is not JSON/);
    expect(await readdir(dir)).toEqual(['pool-analytics.html', 'pool-analytics.json', 'pool-audit.jsonl']);
  });
});

describe('shardLabels', () => {
  it('uses folder names when they differ, the paths when they do not', () => {
    expect(shardLabels(['out/shard-1', 'out/shard-2/'])).toEqual(['shard-1', 'shard-2']);
    expect(shardLabels(['a/pool-report', 'b/pool-report/'])).toEqual(['a/pool-report', 'b/pool-report']);
  });
});
