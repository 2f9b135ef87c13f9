import { resourceConfigSchema, timeoutConfigSchema } from '../../src/config/schemas.js';
import type { TestPriority } from '../../src/domain/priority.js';
import type { SystemAnalytics } from '../../src/pool/analytics-types.js';
import { asPoolAuditEvents } from '../../src/pool/audit-events.js';
import { computeAnalytics } from '../../src/pool/pool-analytics.js';
import type { AuditEvent, ContainerRecord } from '../../src/store/pool-store.js';
import type { TestTiming } from '../../src/reporter/test-timings.js';

/*
 * A small, fixed pool run for reporter tests: two containers, ten leases over two minutes with every
 * priority, one lease expired, one revoked after its container went unhealthy (then recovered), one
 * allocation that timed out, three extensions granted and one refused. Built through computeAnalytics so the
 * reporter is tested against the real shape and the real recommendation rules.
 */

export const T0 = Date.UTC(2025, 0, 15, 9, 30, 0);
const C1 = 'cinnamon-qa-mcp-1';
const C2 = 'cinnamon-qa-mcp-2';

interface Lease {
  run: string;
  priority: TestPriority;
  container: string;
  requested: number;
  granted: number;
  ended: number;
  endedBy: 'released' | 'lease-expired' | 'lease-revoked';
}

const LEASES: Lease[] = [
  { run: 'worker-0:checkout', priority: 'critical', container: C1, requested: 0, granted: 40, ended: 21_000, endedBy: 'released' },
  { run: 'worker-1:catalog', priority: 'normal', container: C2, requested: 10, granted: 60, ended: 14_000, endedBy: 'released' },
  { run: 'worker-2:search', priority: 'high', container: C2, requested: 1_000, granted: 14_600, ended: 38_000, endedBy: 'released' },
  { run: 'worker-3:cart', priority: 'low', container: C1, requested: 1_500, granted: 21_400, ended: 44_000, endedBy: 'released' },
  { run: 'worker-0:payment', priority: 'critical', container: C2, requested: 21_100, granted: 38_300, ended: 52_000, endedBy: 'lease-revoked' },
  { run: 'worker-1:<img src=x onerror=alert(1)>', priority: 'normal', container: C1, requested: 14_100, granted: 44_200, ended: 70_000, endedBy: 'lease-expired' },
  { run: 'worker-2:reviews', priority: 'high', container: C2, requested: 38_100, granted: 58_000, ended: 80_000, endedBy: 'released' },
  { run: 'worker-3:wishlist', priority: 'low', container: C1, requested: 44_100, granted: 71_000, ended: 96_000, endedBy: 'released' },
  { run: 'worker-0:refund', priority: 'critical', container: C2, requested: 80_050, granted: 80_100, ended: 101_000, endedBy: 'released' },
  { run: 'worker-1:profile', priority: 'normal', container: C1, requested: 96_050, granted: 96_200, ended: 115_000, endedBy: 'released' },
];

export function fixtureAudit(): AuditEvent[] {
  const events: AuditEvent[] = [{ at: T0, type: 'pool-started', actor: 'coordinator', outcome: 'ok', detail: { containers: 2, durationMs: 1_800 } }];
  LEASES.forEach((l, i) => {
    const leaseId = `lease-${i + 1}`;
    events.push({
      at: T0 + l.granted,
      type: 'allocated',
      actor: l.run,
      containerId: l.container,
      outcome: 'ok',
      detail: { leaseId, token: i + 1, priority: l.priority, requestedAt: T0 + l.requested, waitMs: l.granted - l.requested, attempts: 1 },
    });
    events.push({ at: T0 + l.ended, type: l.endedBy, actor: l.endedBy === 'released' ? l.run : 'coordinator', containerId: l.container, outcome: 'ok', detail: { leaseId } });
    if (l.endedBy === 'released') {
      events.push({ at: T0 + l.ended + 300, type: 'cleanup', actor: 'coordinator', containerId: l.container, outcome: 'ok', detail: { level: 'standard', durationMs: 300, failed: [] } });
    }
  });
  events.push(
    { at: T0 + 51_900, type: 'container-unhealthy', actor: 'health-monitor', containerId: C2, outcome: 'failed', detail: { reason: 'exited with code 137' } },
    { at: T0 + 56_000, type: 'reset', actor: 'coordinator', containerId: C2, outcome: 'ok', detail: { requested: 'recovery', applied: 'recovery', durationMs: 3_900, attempts: 1 } },
    { at: T0 + 30_000, type: 'extension', actor: 'worker-0:checkout', outcome: 'ok', detail: { granted: true, timeoutMs: 150_000 } },
    { at: T0 + 60_000, type: 'extension', actor: 'worker-2:reviews', outcome: 'ok', detail: { granted: true, timeoutMs: 150_000 } },
    { at: T0 + 90_000, type: 'extension', actor: 'worker-3:wishlist', outcome: 'ok', detail: { granted: true, timeoutMs: 150_000 } },
    { at: T0 + 95_000, type: 'extension', actor: 'worker-3:wishlist', outcome: 'refused', detail: { granted: false, reason: 'maxExtensions reached' } },
    {
      at: T0 + 61_000,
      type: 'allocation-failed',
      actor: 'worker-4:export',
      outcome: 'failed',
      detail: { category: 'timeout', code: 'ALLOCATION_TIMEOUT', message: 'No container within 60000 ms', priority: 'low' },
    },
  );
  return events.sort((a, b) => a.at - b.at);
}

function containers(): ContainerRecord[] {
  return [C1, C2].map((id, i) => ({
    id,
    name: id,
    port: 3001 + i,
    state: 'Available',
    stateChangedAt: T0 + 115_300,
    limits: { memoryMB: 512, cpuPercent: 80 },
    consecutiveFailures: 0,
  }));
}

export function fixtureAnalytics(): SystemAnalytics {
  return computeAnalytics({
    now: T0 + 120_000,
    startedAt: T0,
    containers: containers(),
    queue: [],
    leases: [],
    counters: { allocations: 10, releases: 8, expirations: 1, revocations: 1, failedAllocations: 1, cancelledRequests: 0 },
    // Hand-written like a history file of an older run: partial details, read through the same view.
    audit: asPoolAuditEvents(fixtureAudit()),
    executions: [20_900, 13_900, 23_400, 22_600, 13_700, 25_800, 22_000, 25_000, 20_900, 18_800],
    resources: resourceConfigSchema.parse({ avgWaitTimeThreshold: 15_000 }),
    timeouts: timeoutConfigSchema.parse({ defaultTimeoutMs: 30_000 }),
    degradation: { active: false, reasons: [], sample: { queueSize: 0, averageWaitMs: 0, failureRate: 0 } },
  });
}

/** Per-test results as the reporter records them; one title carries markup on purpose. */
export function fixtureTests(): TestTiming[] {
  const base = { project: 'chromium', retry: 0, timeoutMs: 30_000 } as const;
  return [
    { ...base, id: 't1', title: 'checkout › pays with a card', location: 'tests/checkout.spec.ts:9', status: 'passed', durationMs: 20_900, timeoutMs: 60_000, budgetMs: 30_000, extensions: 1, priority: 'critical', container: C1, waitMs: 40 },
    { ...base, id: 't2', title: 'catalog › lists products', location: 'tests/catalog.spec.ts:7', status: 'passed', durationMs: 13_900, budgetMs: 30_000, priority: 'normal', container: C2, waitMs: 50 },
    { ...base, id: 't3', title: 'search › finds <b>bold</b> & "quoted" items', location: 'tests/search.spec.ts:7', status: 'passed', durationMs: 23_400, budgetMs: 30_000, priority: 'high', container: C2, waitMs: 13_600 },
    { ...base, id: 't4', title: 'cart › <script>alert("x")</script>', location: 'tests/cart.spec.ts:10', status: 'timedOut', durationMs: 30_050, budgetMs: 30_000, priority: 'low', container: C1, waitMs: 19_900 },
    { ...base, id: 't5', title: 'reviews › posts a review', location: 'tests/reviews.spec.ts:4', status: 'passed', durationMs: 9_100, priority: 'high', container: C2, waitMs: 19_900 },
    { ...base, id: 't6', title: 'profile › has no timeout', location: 'tests/profile.spec.ts:3', status: 'passed', durationMs: 5_000, timeoutMs: 0 },
  ];
}
