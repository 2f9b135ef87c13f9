import type { AnalyticsInput, OptimizationRecommendation, SystemAnalytics } from './analytics-types.js';

type Analytics = Omit<SystemAnalytics, 'optimizationRecommendations'>;

/** Containers that failed this often in a run are worth taking out of the pool. */
const QUARANTINE_FAILURES = 3;

/**
 * Rules a person can check by hand. Each looks at one symptom and names one action; the figures that made it
 * fire are in its description.
 */
export function recommend(a: Analytics, input: AnalyticsInput): OptimizationRecommendation[] {
  const out: OptimizationRecommendation[] = [];
  const n = a.poolMetrics.totalContainers;
  const { resources, timeouts } = input;
  const perf = a.resourceMetrics.performanceMetrics;

  // Queue wait high → more containers. Little's law sizing: containers needed ≈ busy share × N × (1 + wait/hold).
  const holds = a.allocations.filter((x) => x.releasedAt !== null).map((x) => x.releasedAt! - x.allocatedAt);
  const meanHold = holds.length ? holds.reduce((s, v) => s + v, 0) / holds.length : 0;
  if (a.allocations.length >= 3 && perf.p95WaitMs > 0 && meanHold > 0 && perf.p95WaitMs > Math.max(1000, meanHold * 0.5)) {
    const suggested = Math.max(n + 1, Math.ceil(n * Math.min(3, 1 + perf.averageWaitMs / meanHold)));
    const critical = perf.p95WaitMs >= resources.avgWaitTimeThreshold;
    out.push({
      severity: critical ? 'critical' : 'warning',
      rule: 'queue-wait-high',
      title: 'Tests wait long for a container',
      description: `p95 allocation wait is ${fmt(perf.p95WaitMs)} (average ${fmt(perf.averageWaitMs)}) while a lease is held ${fmt(meanHold)} on average; utilisation ${pct(perf.resourceEfficiency)}.`,
      suggestedAction: `Raise the pool from ${n} to ${suggested} containers (containers: ${suggested}), or run fewer workers.`,
    });
  }

  const timeoutFailures = a.resourceMetrics.failureAnalysis.byCategory.timeout;
  if (timeoutFailures > 0) {
    out.push({
      severity: 'critical',
      rule: 'allocation-timeouts',
      title: 'Allocations timed out',
      description: `${timeoutFailures} request(s) waited longer than maxWaitTimeMs (${fmt(resources.maxWaitTimeMs)}) and failed.`,
      suggestedAction: `Add containers, or raise resources.maxWaitTimeMs above the longest expected queue (p95 wait ${fmt(perf.p95WaitMs)}).`,
    });
  }

  // Timeouts often extended → the default is too low.
  const ext = a.timeoutMetrics;
  const tests = Math.max(1, a.allocations.length, ext.samples);
  if (ext.extensionsGranted >= 2 && ext.extensionsGranted / tests >= 0.2) {
    const wanted = Math.max(ext.adaptiveRecommendation.timeoutMs, Math.round(ext.p95ExecutionTime * 1.5));
    const raise = suggestTimeoutRaise(timeouts.defaultTimeoutMs, wanted, timeouts.maxTimeoutMs);
    out.push({
      severity: 'warning',
      rule: 'extensions-frequent',
      title: 'Timeouts are often extended',
      description: `${ext.extensionsGranted} extension(s) granted (${ext.extensionsDenied} denied) for ${tests} test run(s); p95 execution ${fmt(ext.p95ExecutionTime)}.`,
      suggestedAction:
        raise.kind === 'default'
          ? `Raise timeouts.defaultTimeoutMs from ${fmt(timeouts.defaultTimeoutMs)} to ${fmt(raise.toMs)}, or keep enableAdaptiveTimeout on so each test's budget follows its history.`
          : `timeouts.defaultTimeoutMs (${fmt(timeouts.defaultTimeoutMs)}) is already at timeouts.maxTimeoutMs: raise both, e.g. to ${fmt(raise.toMs)}, or split the slow tests.`,
    });
  }
  if (ext.extensionsDenied > 0 && ext.extensionsDenied >= ext.extensionsGranted) {
    out.push({
      severity: 'info',
      rule: 'extensions-denied',
      title: 'Extension requests were refused',
      description: `${ext.extensionsDenied} extension request(s) were refused (limit ${timeouts.maxExtensions} per test, cap ${fmt(timeouts.maxTimeoutMs)}).`,
      suggestedAction: 'Look at the tests that ask most: split them, or raise timeouts.maxExtensions if the extra time is legitimate.',
    });
  }

  // One container failing repeatedly → quarantine it.
  for (const [containerId, failures] of Object.entries(a.resourceMetrics.failureAnalysis.byContainer)) {
    if (failures < QUARANTINE_FAILURES) continue;
    out.push({
      severity: 'critical',
      rule: 'container-failing',
      title: `Container ${containerId} fails repeatedly`,
      description: `${containerId} failed ${failures} time(s) (health, cleanup or reset) this run.`,
      suggestedAction: `Quarantine ${containerId}: take it out of the pool (containerSpecs) and inspect its logs; check its memory limit (maxMemoryPerContainerMB ${resources.maxMemoryPerContainerMB}).`,
    });
  }

  if (a.health.leasesExpired > 0) {
    out.push({
      severity: 'warning',
      rule: 'leases-expired',
      title: 'Leases expired without a release',
      description: `${a.health.leasesExpired} lease(s) expired: their holder stopped renewing (worker crash, or a blocked event loop).`,
      suggestedAction: 'Check for crashed workers; if tests block the event loop for long, raise lease.ttlMs.',
    });
  }

  if (a.degradation.active || input.audit.some((e) => e.type === 'degradation-started')) {
    out.push({
      severity: 'warning',
      rule: 'degraded',
      title: 'The pool ran degraded',
      description: `Graceful degradation started (${a.degradation.reasons.join(', ') || 'see audit'}): LOW requests were refused and cleanup was minimal.`,
      suggestedAction: 'Add containers or lower worker count; or raise queueSizeThreshold / avgWaitTimeThreshold if the load is expected.',
    });
  }

  const elapsed = a.generatedAt - a.startedAt;
  if (a.allocations.length >= 10 && elapsed > 60_000 && perf.resourceEfficiency < 0.3 && perf.p95WaitMs < 1000 && n > 1) {
    out.push({
      severity: 'info',
      rule: 'pool-oversized',
      title: 'Containers are mostly idle',
      description: `Containers were leased ${pct(perf.resourceEfficiency)} of the time and nobody waited (p95 wait ${fmt(perf.p95WaitMs)}).`,
      suggestedAction: `Try ${n - 1} container(s) to save memory and start-up time.`,
    });
  }

  const order = { critical: 0, warning: 1, info: 2 };
  return out.sort((x, y) => order[x.severity] - order[y.severity]);
}

/** Suggestions move in steps a person can see in the message: whole multiples of 5 s. */
const SUGGESTION_STEP_MS = 5_000;

export type TimeoutRaise = { kind: 'default'; toMs: number } | { kind: 'max'; toMs: number };

/**
 * A new default timeout that is really higher than `currentMs`: at least `wantedMs` and a quarter more than
 * today, rounded up to 5 s, capped at `maxMs`. When the cap leaves no room (default already at the max), it
 * says the max must go up too, with the value to use — never "raise from 120 s to 120 s".
 */
export function suggestTimeoutRaise(currentMs: number, wantedMs: number, maxMs: number): TimeoutRaise {
  const target = Math.ceil(Math.max(wantedMs, currentMs * 1.25, currentMs + 1) / SUGGESTION_STEP_MS) * SUGGESTION_STEP_MS;
  const capped = Math.min(target, maxMs);
  if (capped > currentMs && fmt(capped) !== fmt(currentMs)) return { kind: 'default', toMs: capped };
  return { kind: 'max', toMs: target };
}

function fmt(ms: number): string {
  return ms >= 1_000 ? `${(ms / 1000).toFixed(ms >= 100_000 ? 0 : 1)} s` : `${Math.round(ms)} ms`;
}

function pct(share: number): string {
  return `${Math.round(share * 100)} %`;
}
