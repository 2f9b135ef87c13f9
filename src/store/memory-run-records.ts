import type { AuditEvent, CounterName, StoreCounters } from './pool-store.js';

const ZERO_COUNTERS: StoreCounters = {
  allocations: 0,
  releases: 0,
  expirations: 0,
  revocations: 0,
  failedAllocations: 0,
  cancelledRequests: 0,
};

/** What the memory store keeps about the run rather than the pool: execution history, extensions, counters, audit. */
export class MemoryRunRecords {
  private readonly executions = new Map<string, number[]>();
  private overall: number[] = [];
  private readonly extensions = new Map<string, number>();
  private readonly counters: StoreCounters = { ...ZERO_COUNTERS };
  private audit: AuditEvent[] = [];

  constructor(private readonly auditLimit: number) {}

  appendExecution(testId: string, durationMs: number, limit: number): void {
    const own = this.executions.get(testId) ?? [];
    own.push(durationMs);
    this.executions.set(testId, own.slice(-limit));
    this.overall.push(durationMs);
    if (this.overall.length > limit) this.overall = this.overall.slice(-limit);
  }

  getExecutions(testId?: string): number[] {
    return [...(testId === undefined ? this.overall : (this.executions.get(testId) ?? []))];
  }

  claimExtension(testRunId: string, max: number): number {
    const count = this.extensions.get(testRunId) ?? 0;
    if (count >= max) return -1;
    this.extensions.set(testRunId, count + 1);
    return count + 1;
  }

  getExtensionCount(testRunId: string): number {
    return this.extensions.get(testRunId) ?? 0;
  }

  count(name: CounterName, by = 1): void {
    this.counters[name] += by;
  }

  getCounters(): StoreCounters {
    return { ...this.counters };
  }

  appendAudit(events: readonly AuditEvent[]): void {
    for (const e of events) this.audit.push({ ...e });
    if (this.audit.length > this.auditLimit) this.audit = this.audit.slice(-this.auditLimit);
  }

  listAudit(): AuditEvent[] {
    return this.audit.map((e) => ({ ...e }));
  }
}
