import { PoolError } from '../errors/pool-error.js';

export const TEST_PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type TestPriority = (typeof TEST_PRIORITIES)[number];

/** Lower rank is served first. */
export const PRIORITY_RANK: Readonly<Record<TestPriority, number>> = { critical: 0, high: 1, normal: 2, low: 3 };

export function isTestPriority(value: unknown): value is TestPriority {
  return typeof value === 'string' && (TEST_PRIORITIES as readonly string[]).includes(value);
}

export function parsePriority(value: unknown): TestPriority {
  if (isTestPriority(value)) return value;
  throw new PoolError(
    'INVALID_PRIORITY',
    `Unknown priority ${JSON.stringify(value)}: use one of ${TEST_PRIORITIES.map((p) => `'${p}'`).join(', ')} ` +
      `(for example test.use({ priority: 'high' })).`,
    { value, allowed: [...TEST_PRIORITIES] },
  );
}

/**
 * Priority and arrival order in one sortable number: rank * 2^32 + arrival counter. Ascending order is
 * service order: every critical request before any high one, first come first served inside a level.
 */
export function queueScore(priority: TestPriority, arrival: number): number {
  return PRIORITY_RANK[priority] * 2 ** 32 + (arrival % 2 ** 32);
}
