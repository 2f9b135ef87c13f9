import { describe, expect, it } from 'vitest';
import { timeoutConfigSchema } from '../config/schemas.js';
import { MemoryPoolStore } from '../store/memory-store.js';
import { adaptiveTimeout, TimeoutManager } from './timeout-manager.js';

function manager(overrides: Record<string, unknown> = {}) {
  const store = new MemoryPoolStore();
  return { store, timeouts: new TimeoutManager(store, timeoutConfigSchema.parse(overrides)) };
}

describe('adaptive timeout math', () => {
  it('is max(p95 × 1.5, avg × 2), capped at maxTimeoutMs', () => {
    // p95 of 1..20 (×1000) is 19000 → 28500; average 10500 → 21000.
    const samples = Array.from({ length: 20 }, (_, i) => (i + 1) * 1000);
    expect(adaptiveTimeout(samples, 600_000)).toBe(28_500);
    // A skewed history where the average rule wins: nineteen 1 s runs and one 100 s run.
    const skewed = [...Array.from({ length: 19 }, () => 1000), 100_000];
    // p95 (nearest rank 19) = 1000 → 1500; average 5950 → 11900.
    expect(adaptiveTimeout(skewed, 600_000)).toBe(11_900);
    expect(adaptiveTimeout(samples, 20_000)).toBe(20_000);
  });

  it('uses defaultTimeoutMs until there are enough samples, per test id', async () => {
    const { timeouts } = manager({ minHistorySamples: 3, defaultTimeoutMs: 50_000 });
    await timeouts.recordExecution('a', 1000);
    await timeouts.recordExecution('a', 2000);
    expect(await timeouts.recommend('a')).toMatchObject({ timeoutMs: 50_000, source: 'default', samples: 2 });
    await timeouts.recordExecution('a', 3000);
    expect(await timeouts.recommend('a')).toMatchObject({ timeoutMs: 4500, source: 'adaptive', samples: 3 });
    expect(await timeouts.recommend('b')).toMatchObject({ timeoutMs: 50_000, source: 'default' });
  });

  it('keeps the default when adaptive timeouts are off', async () => {
    const { timeouts } = manager({ minHistorySamples: 1, enableAdaptiveTimeout: false });
    await timeouts.recordExecution('a', 1000);
    expect((await timeouts.recommend('a')).timeoutMs).toBe(120_000);
  });

  it('rejects a negative or NaN duration', async () => {
    const { timeouts, store } = manager();
    await expect(timeouts.recordExecution('a', -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(timeouts.recordExecution('a', Number.NaN)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await store.getExecutions('a')).toEqual([]);
  });
});

describe('timeout extensions', () => {
  it('grants at most maxExtensions per test run, each recorded with its reason', async () => {
    const { timeouts } = manager({ maxExtensions: 2 });
    const req = { testRunId: 'r1', justification: 'payment sandbox is slow', requestedMs: 30_000, currentTimeoutMs: 60_000 };
    expect(await timeouts.requestExtension(req)).toEqual({ granted: true, timeoutMs: 90_000, extensionMs: 30_000, reason: 'granted', count: 1 });
    expect((await timeouts.requestExtension({ ...req, currentTimeoutMs: 90_000 })).count).toBe(2);
    const third = await timeouts.requestExtension({ ...req, currentTimeoutMs: 120_000 });
    expect(third).toMatchObject({ granted: false, timeoutMs: 120_000, extensionMs: 0, count: 2 });
    expect(third.reason).toContain('maxExtensions (2)');
    expect((await timeouts.requestExtension({ ...req, testRunId: 'r2' })).granted).toBe(true);
  });

  it('bounds each extension by maxTimeoutMs and refuses at the cap', async () => {
    const { timeouts } = manager({ maxTimeoutMs: 100_000, defaultTimeoutMs: 60_000 });
    const capped = await timeouts.requestExtension({ testRunId: 'r', justification: 'slow CI', requestedMs: 90_000, currentTimeoutMs: 60_000 });
    expect(capped).toMatchObject({ granted: true, timeoutMs: 100_000, extensionMs: 40_000 });
    expect(capped.reason).toContain('capped');
    const atCap = await timeouts.requestExtension({ testRunId: 'r', justification: 'slow CI', requestedMs: 1000, currentTimeoutMs: 100_000 });
    expect(atCap).toMatchObject({ granted: false, count: 1 });
  });

  it('refuses without a justification and does not use up an extension', async () => {
    const { timeouts, store } = manager();
    const refused = await timeouts.requestExtension({ testRunId: 'r', justification: '  ', requestedMs: 1000 });
    expect(refused.granted).toBe(false);
    expect(refused.reason).toContain('justification');
    expect(await store.getExtensionCount('r')).toBe(0);
  });

  it('rejects NaN or negative amounts with a typed error', async () => {
    const { timeouts, store } = manager();
    await expect(timeouts.requestExtension({ testRunId: 'r', justification: 'why', requestedMs: -5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(timeouts.requestExtension({ testRunId: 'r', justification: 'why', requestedMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await store.getExtensionCount('r')).toBe(0);
  });
});
