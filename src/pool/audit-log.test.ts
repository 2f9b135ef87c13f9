import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/fake-clock.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import { AuditLog, DEFAULT_AUDIT_FLUSH_INTERVAL_MS, DEFAULT_AUDIT_MAX_BATCH, parseAuditLogOptions, type AuditLogOptions } from './audit-log.js';

const stopped = { type: 'pool-stopped', actor: 'coordinator', outcome: 'ok' } as const;

describe('AuditLog options', () => {
  it('fill every default from its named constant', () => {
    expect(parseAuditLogOptions(undefined)).toEqual({ flushIntervalMs: DEFAULT_AUDIT_FLUSH_INTERVAL_MS, maxBatch: DEFAULT_AUDIT_MAX_BATCH });
  });

  it('write a lone event after the default interval, and a full default batch at once', async () => {
    const clock = new FakeClock(1_000);
    const store = new MemoryPoolStore();
    const audit = new AuditLog(store, clock);
    audit.record(stopped);
    await clock.advance(DEFAULT_AUDIT_FLUSH_INTERVAL_MS - 1);
    expect(await store.listAudit()).toHaveLength(0);
    await clock.advance(1);
    await flushMicrotasks();
    expect(await store.listAudit()).toHaveLength(1);

    for (let i = 0; i < DEFAULT_AUDIT_MAX_BATCH - 1; i++) audit.record(stopped);
    await flushMicrotasks();
    expect(await store.listAudit()).toHaveLength(1);
    audit.record(stopped);
    await flushMicrotasks();
    expect(await store.listAudit()).toHaveLength(1 + DEFAULT_AUDIT_MAX_BATCH);
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', () => {
    const store = new MemoryPoolStore();
    const clock = new FakeClock();
    const cases: Array<[AuditLogOptions, RegExp]> = [
      [{ flushIntervalMs: 0 }, /flushIntervalMs: .*\(got 0\)/],
      [{ flushIntervalMs: 2.5 }, /flushIntervalMs: .*\(got 2\.5\)/],
      [{ maxBatch: -1 }, /maxBatch: .*\(got -1\)/],
      [{ onError: 'log' } as never, /onError: must be a function/],
      [{ batchSize: 8 } as never, /unknown option 'batchSize'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => new AuditLog(store, clock, input), 'AuditLog options', problem);
  });
});
