import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { resourceConfigSchema, timeoutConfigObject } from '../config/schemas.js';
import type { OptimizationRecommendation, SystemAnalytics, TimeoutMetrics } from '../pool/analytics-types.js';
import { asPoolAuditEvents } from '../pool/audit-events.js';
import { computeAnalytics } from '../pool/pool-analytics.js';
import type { DegradationState } from '../pool/resource-manager.js';
import type { AuditEvent, ContainerRecord, StoreCounters } from '../store/pool-store.js';
import { parseAuditEvents, parseSystemAnalytics } from './analytics-schema.js';
import { ANALYTICS_JSON_FILE, AUDIT_JSONL_FILE } from './write-files.js';

/** One shard's pool report folder, as read from disk (`pool-analytics.json` + `pool-audit.jsonl`). */
export interface ShardReport {
  /** Short name of the shard in messages and, for separate stores, in qualified container ids. */
  label: string;
  dir: string;
  analytics: SystemAnalytics;
  audit: AuditEvent[];
}

/** Shards whose audit trails overlap: they read one pool store (one Redis), so its counters are one set. */
export interface StoreGroup {
  labels: string[];
  /** The shard whose analytics are the newest (largest `generatedAt`): the store's state and counters. */
  latest: string;
}

export interface MergedReport {
  /** The run group every report was of (their `runGroup`); absent when none had one. Also in `analytics`. */
  runGroup?: string;
  analytics: SystemAnalytics;
  audit: AuditEvent[];
  stores: StoreGroup[];
  /** True when container ids were prefixed with their shard label (separate stores that reuse the same ids). */
  qualifiedIds: boolean;
}

export type ReportReadErrorCode = 'REPORT_MISSING' | 'REPORT_INVALID';

/** A shard report folder that cannot be merged: `file` names the folder or file, the message what is wrong. */
export class ReportReadError extends Error {
  override readonly name = 'ReportReadError';
  constructor(
    readonly code: ReportReadErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reports of one run group, or of none (`runGroup` undefined), with their labels in argument order. */
export interface RunGroupReports {
  runGroup: string | undefined;
  labels: string[];
}

/**
 * Reports of several run groups given to one merge: `groups` lists each group (none: `runGroup` undefined) with
 * its reports' labels; nothing is merged or written.
 */
export class ReportMergeError extends Error {
  override readonly name = 'ReportMergeError';
  readonly code = 'RUN_GROUPS_DIFFER';
  constructor(readonly groups: RunGroupReports[]) {
    const list = groups.map((g) => `${g.runGroup ?? 'no run group'} (${g.labels.join(', ')})`).join('; ');
    super(
      `The reports are of ${groups.length} run groups, which are different CI builds (or a build and a local run): ${list}. Nothing merged. ` +
        'Merge the folders of one build at a time (one merge-reports per run group), or, if these shards are one build, ' +
        'give each of them the same CINNAMON_POOL_RUN_GROUP (or runGroup option) when they run.',
    );
  }
}

const FOLDER_HINT = `each shard folder needs the ${ANALYTICS_JSON_FILE} and ${AUDIT_JSONL_FILE} the pool reporter writes (its outputDir, default pool-report/)`;

/** Reads and checks one shard's report folder; throws ReportReadError naming the file and the first fault. */
export async function readShardReport(dir: string, label: string): Promise<ShardReport> {
  const folder = await stat(dir).catch(() => undefined);
  if (!folder?.isDirectory()) throw new ReportReadError('REPORT_MISSING', dir, `${dir} is not a folder: ${FOLDER_HINT}.`);
  const jsonFile = join(dir, ANALYTICS_JSON_FILE);
  const auditFile = join(dir, AUDIT_JSONL_FILE);
  const analyticsValue = parseJson(await readText(jsonFile), jsonFile);
  const analytics = asReadError(jsonFile, () => parseSystemAnalytics(analyticsValue, jsonFile));
  const audit: AuditEvent[] = [];
  (await readText(auditFile)).split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const origin = `${auditFile} line ${i + 1}`;
    const value = parseJson(line, origin);
    // parseAuditEvents reads a list: its message names the item ("0.at"); this file names the line instead.
    audit.push(...asReadError(auditFile, () => parseAuditEvents([value], origin), (m) => m.replace(' did not return audit events: 0.', ': not an audit event: ')));
  });
  return { label, dir, analytics, audit };
}

/** Labels for folders: the folder's own name when that is unique among them, else the path as given. */
export function shardLabels(dirs: readonly string[]): string[] {
  const names = dirs.map((d) => basename(resolve(d)));
  return dirs.map((d, i) => (names.filter((n) => n === names[i]).length === 1 ? names[i]! : d.replace(/[/\\]+$/, '') || d));
}

/**
 * Merges shard reports into one.
 *
 * The merge rule:
 * - **Store groups.** Shards that read one store (a shared pool: every shard reads the same Redis) see the same
 *   events; shards that each ran their own pool (no Redis) see disjoint ones. Two shards are in one group when
 *   their trails share an event that names a lease or a run (`detail.leaseId` / `detail.runId`: random ids, so
 *   sharing one means sharing the store). Other events (a `pool-stopped` at the same millisecond in two pools)
 *   could match by chance and are not taken as evidence. The report files carry no store id to compare instead.
 * - **Audit trail.** Within a group, the union of its shards' events, de-duplicated by identity (the event's JSON
 *   with sorted keys). Groups are never de-duplicated against each other: they are different stores. The merged
 *   trail is ordered by `at`, stably (shards in argument order, each file's order).
 * - **Figures derived from events** (allocations and their waits, wait percentiles, failures, cleanups, resets,
 *   extensions, health events, quarantines, trend, throughput) are recomputed with computeAnalytics from the
 *   merged trail: a lease granted before shard A ended and released after is whole only in the merge.
 * - **Figures only the snapshots have** (containers and their states, queue at the end, the store's counters:
 *   allocations, releases, failures, revocations, expirations; execution times; degradation; recommendations) are
 *   taken per group from its newest snapshot (largest `generatedAt`): a shared store's counters are cumulative, so
 *   adding them across shards of one group would count every allocation once per shard. Across groups they are
 *   added (execution averages weighted by samples; p95 is the largest group p95, an upper bound, since the files
 *   keep no samples; the suggested timeout is the largest).
 * - **Recommendations** are the newest snapshot's of each group (titled with the group's label when there are
 *   several groups): they were made with the pool's own configuration, which the files do not carry.
 * - **Run groups.** Every report must be of one run group (its `runGroup`: the CI build the shard ran in), or all of
 *   none; otherwise ReportMergeError and nothing is merged. Refused rather than merged per group into separate
 *   outputs: the command has one output folder that CI uploads as the build's report, and reports of two builds
 *   given together are a mistake in the artifact download (a previous attempt's, another pipeline's) that a
 *   silent split would hide. Reports without a group (a local run, a version before runGroup) merge as before.
 * - **Container ids** that occur in more than one group (`container-1` in two separate pools) are prefixed with
 *   the group's label (`shard-2/container-1`), in every group, so the per-container figures do not mix pools.
 */
export function mergeShardReports(shards: readonly ShardReport[]): MergedReport {
  if (shards.length === 0) throw new Error('mergeShardReports needs at least one shard report');
  const runGroup = commonRunGroup(shards);
  const groups = groupByStore(shards);
  const latestOf = groups.map((g) => g.reduce((a, b) => (b.analytics.generatedAt > a.analytics.generatedAt ? b : a)));
  const idsOf = groups.map((g, i) => containerIds(latestOf[i]!.analytics, g));
  const qualify = groups.length > 1 && hasSharedId(idsOf);
  const name = (i: number, id: string) => (qualify ? `${groups[i]![0]!.label}/${id}` : id);

  const audit = stableByAt(groups.flatMap((g, i) => unionOfTrails(g).map((e) => (qualify ? qualifyEvent(e, (id) => name(i, id)) : e))));
  const latest = latestOf.map((s) => s.analytics);
  const containers = idsOf.flatMap((ids, i) => ids.map((id) => syntheticContainer(name(i, id))));
  const sum = (pick: (a: SystemAnalytics) => number) => latest.reduce((total, a) => total + pick(a), 0);
  const counters: StoreCounters = {
    allocations: sum((a) => a.poolMetrics.totalAllocations),
    releases: sum((a) => a.poolMetrics.totalReleases),
    failedAllocations: sum((a) => a.poolMetrics.failedAllocations),
    revocations: sum((a) => a.health.leasesRevoked),
    expirations: sum((a) => a.health.leasesExpired),
    cancelledRequests: 0,
  };
  const degradation = mergeDegradation(latest);
  const computed = computeAnalytics({
    now: Math.max(...shards.map((s) => s.analytics.generatedAt)),
    startedAt: Math.min(...shards.map((s) => s.analytics.startedAt)),
    containers,
    queue: [],
    leases: [],
    counters,
    audit: asPoolAuditEvents(audit),
    executions: [],
    // Only recommend() reads these, and its result is replaced below by the snapshots' own recommendations.
    resources: resourceConfigSchema.parse({}),
    timeouts: timeoutConfigObject.parse({}),
    degradation,
  });
  const analytics: SystemAnalytics = {
    ...computed,
    poolMetrics: {
      ...computed.poolMetrics,
      totalContainers: sum((a) => a.poolMetrics.totalContainers),
      availableContainers: sum((a) => a.poolMetrics.availableContainers),
      allocatedContainers: sum((a) => a.poolMetrics.allocatedContainers),
      queueSize: sum((a) => a.poolMetrics.queueSize),
    },
    timeoutMetrics: { ...computed.timeoutMetrics, ...mergeExecutions(latest.map((a) => a.timeoutMetrics)) },
    optimizationRecommendations: mergeRecommendations(latestOf, groups.length > 1),
    ...(runGroup !== undefined ? { runGroup } : {}),
  };
  return {
    ...(runGroup !== undefined ? { runGroup } : {}),
    analytics,
    audit,
    stores: groups.map((g, i) => ({ labels: g.map((s) => s.label), latest: latestOf[i]!.label })),
    qualifiedIds: qualify,
  };
}

/** The reports by run group (none: undefined), groups in order of first appearance. */
export function groupByRunGroup(shards: readonly ShardReport[]): RunGroupReports[] {
  const groups = new Map<string | undefined, string[]>();
  for (const shard of shards) groups.set(shard.analytics.runGroup, [...(groups.get(shard.analytics.runGroup) ?? []), shard.label]);
  return [...groups].map(([runGroup, labels]) => ({ runGroup, labels }));
}

/** The one run group of every report (undefined: none has one); ReportMergeError when they differ. */
function commonRunGroup(shards: readonly ShardReport[]): string | undefined {
  const groups = groupByRunGroup(shards);
  if (groups.length > 1) throw new ReportMergeError(groups);
  return groups[0]?.runGroup;
}

/** An event's identity: its JSON with keys sorted at every level, so key order from different writers does not matter. */
export function eventIdentity(event: AuditEvent): string {
  return JSON.stringify(event, (_key, value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : value,
  );
}

/** Shards in groups that share a store (see mergeShardReports); groups and their members in argument order. */
export function groupByStore(shards: readonly ShardReport[]): ShardReport[][] {
  const parent = shards.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i]!)));
  const seenIn = new Map<string, number>();
  shards.forEach((shard, i) => {
    for (const event of shard.audit) {
      if (!namesLeaseOrRun(event)) continue;
      const id = eventIdentity(event);
      const other = seenIn.get(id);
      if (other === undefined) seenIn.set(id, i);
      else parent[Math.max(root(i), root(other))] = Math.min(root(i), root(other));
    }
  });
  const groups = new Map<number, ShardReport[]>();
  shards.forEach((shard, i) => groups.set(root(i), [...(groups.get(root(i)) ?? []), shard]));
  return [...groups.values()];
}

function namesLeaseOrRun(event: AuditEvent): boolean {
  return typeof event.detail?.leaseId === 'string' || typeof event.detail?.runId === 'string';
}

function unionOfTrails(group: readonly ShardReport[]): AuditEvent[] {
  const seen = new Set<string>();
  const out: AuditEvent[] = [];
  for (const event of group.flatMap((s) => s.audit)) {
    const id = eventIdentity(event);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(event);
  }
  return out;
}

function stableByAt(events: AuditEvent[]): AuditEvent[] {
  return events.map((event, i) => ({ event, i })).sort((a, b) => a.event.at - b.event.at || a.i - b.i).map((x) => x.event);
}

/** The newest snapshot's containers (the trend lists each by id), plus any other a lease of the group was on. */
function containerIds(latest: SystemAnalytics, group: readonly ShardReport[]): string[] {
  const ids = new Set(Object.keys(latest.resourceMetrics.utilizationTrend.at(-1)?.perContainer ?? {}));
  for (const event of group.flatMap((s) => s.audit)) if (event.type === 'allocated' && event.containerId) ids.add(event.containerId);
  return [...ids];
}

function hasSharedId(idsOf: readonly string[][]): boolean {
  const all = idsOf.flatMap((ids) => ids);
  return new Set(all).size < all.length;
}

function qualifyEvent(event: AuditEvent, name: (id: string) => string): AuditEvent {
  const out: AuditEvent = { ...event };
  if (event.containerId !== undefined) out.containerId = name(event.containerId);
  if (typeof event.detail?.containerId === 'string') out.detail = { ...event.detail, containerId: name(event.detail.containerId) };
  return out;
}

/**
 * computeAnalytics reads a container's id (trend, efficiency) and state (counts, replaced by the snapshots'); the
 * files keep no more, so the rest of the record is a placeholder that no figure of the merge reads.
 */
function syntheticContainer(id: string): ContainerRecord {
  return { id, name: id, port: 0, state: 'Available', stateChangedAt: 0, limits: { memoryMB: 0, cpuPercent: 0 }, consecutiveFailures: 0 };
}

function mergeDegradation(latest: readonly SystemAnalytics[]): DegradationState {
  const newest = latest.reduce((a, b) => (b.generatedAt > a.generatedAt ? b : a));
  const active = latest.filter((a) => a.degradation.active);
  const since = active.map((a) => a.degradation.since).filter((s): s is number => typeof s === 'number');
  return {
    ...newest.degradation,
    active: active.length > 0,
    reasons: [...new Set(latest.flatMap((a) => a.degradation.reasons))],
    ...(since.length ? { since: Math.min(...since) } : {}),
  };
}

type ExecutionFigures = Pick<TimeoutMetrics, 'averageExecutionTime' | 'p95ExecutionTime' | 'samples' | 'adaptiveRecommendation'>;

function mergeExecutions(metrics: readonly TimeoutMetrics[]): ExecutionFigures {
  const samples = metrics.reduce((n, m) => n + m.samples, 0);
  const weighted = metrics.reduce((total, m) => total + m.averageExecutionTime * m.samples, 0);
  return {
    averageExecutionTime: samples ? Math.round(weighted / samples) : 0,
    p95ExecutionTime: Math.max(...metrics.map((m) => m.p95ExecutionTime)),
    samples,
    adaptiveRecommendation: metrics.map((m) => m.adaptiveRecommendation).reduce((a, b) => (b.timeoutMs > a.timeoutMs ? b : a)),
  };
}

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 } as const;

function mergeRecommendations(latestOf: readonly ShardReport[], labelled: boolean): OptimizationRecommendation[] {
  const all = latestOf.flatMap((s) => s.analytics.optimizationRecommendations.map((r) => (labelled ? { ...r, title: `${s.label}: ${r.title}` } : r)));
  return all.map((r, i) => ({ r, i })).sort((a, b) => SEVERITY_ORDER[a.r.severity] - SEVERITY_ORDER[b.r.severity] || a.i - b.i).map((x) => x.r);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ReportReadError('REPORT_MISSING', file, `${file} is missing: ${FOLDER_HINT}.`);
    throw new ReportReadError('REPORT_INVALID', file, `${file} cannot be read (${code ?? (error as Error).message}).`);
  }
}

function parseJson(text: string, origin: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ReportReadError('REPORT_INVALID', origin.replace(/ line \d+$/, ''), `${origin} is not JSON: ${(error as Error).message}`);
  }
}

function asReadError<T>(file: string, read: () => T, reword: (message: string) => string = (m) => m): T {
  try {
    return read();
  } catch (error) {
    throw new ReportReadError('REPORT_INVALID', file, `${reword((error as Error).message)}. Merge only folders the pool reporter wrote.`);
  }
}
