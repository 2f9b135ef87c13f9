import { z } from 'zod';
import { CONTAINER_STATES } from '../domain/container-state.js';
import { TEST_PRIORITIES } from '../domain/priority.js';
import { PoolError } from '../errors/pool-error.js';
import type { AuditEvent, ContainerRecord, CounterName, EndedLease, Lease, QueuedRequest, StoreCounters } from './pool-store.js';

/*
 * What the Redis store reads back is validated before anything above the store sees it: another process, an
 * older version or a person with redis-cli may have written the key. Unknown extra fields are dropped.
 * Each schema is checked against its interface (`satisfies`), so the two cannot drift apart silently.
 */

const finite = z.number().finite();
const count = z.number().int().min(0);

export const resourceUsageSchema = z.object({ memoryMB: finite, cpuPercent: finite, at: finite });

export const containerRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  port: z.number().int(),
  state: z.enum(CONTAINER_STATES),
  stateChangedAt: finite,
  limits: z.object({ memoryMB: finite, cpuPercent: finite }),
  usage: resourceUsageSchema.optional(),
  leaseId: z.string().optional(),
  consecutiveFailures: count,
  lastError: z.string().optional(),
  hostId: z.string().optional(),
  address: z.string().optional(),
  tenant: z.string().optional(),
}) satisfies z.ZodType<ContainerRecord>;

export const queuedRequestSchema = z.object({
  requestId: z.string(),
  testRunId: z.string(),
  priority: z.enum(TEST_PRIORITIES),
  requestedAt: finite,
  deadline: finite,
  requirements: z.object({ minMemoryMB: finite.optional(), maxCpuPercent: finite.optional() }),
  attempt: count,
  tenant: z.string().optional(),
  tenantQuota: count.optional(),
  seq: z.number().int().positive(),
  queuedAt: finite.optional(),
}) satisfies z.ZodType<QueuedRequest>;

export const leaseSchema = z.object({
  leaseId: z.string(),
  containerId: z.string(),
  token: z.number().int().positive(),
  requestId: z.string(),
  testRunId: z.string(),
  priority: z.enum(TEST_PRIORITIES),
  requestedAt: finite,
  grantedAt: finite,
  expiresAt: finite,
  ttlMs: finite,
  tenant: z.string().optional(),
  seq: z.number().int().positive().optional(),
  queuedAt: finite.optional(),
  member: z.object({ hostId: z.string(), name: z.string(), address: z.string(), port: z.number().int().positive() }).optional(),
}) satisfies z.ZodType<Lease>;

export const endedLeaseSchema = z.object({
  lease: leaseSchema,
  reason: z.enum(['released', 'expired', 'revoked']),
  endedAt: finite,
  error: z.string().optional(),
}) satisfies z.ZodType<EndedLease>;

export const auditEventSchema = z.object({
  at: finite,
  type: z.string(),
  actor: z.string(),
  containerId: z.string().optional(),
  outcome: z.enum(['ok', 'refused', 'failed']),
  detail: z.record(z.string(), z.unknown()).optional(),
}) satisfies z.ZodType<AuditEvent>;

/** Every StoreCounters field; the Record type makes the compiler flag a counter added to the interface but not here. */
const COUNTER_FLAGS: Record<CounterName, true> = {
  allocations: true,
  releases: true,
  expirations: true,
  revocations: true,
  failedAllocations: true,
  cancelledRequests: true,
};
export const COUNTER_NAMES = Object.keys(COUNTER_FLAGS) as CounterName[];

export function isCounterName(value: unknown): value is CounterName {
  return typeof value === 'string' && Object.hasOwn(COUNTER_FLAGS, value);
}

/** A stored integer (counter, extension count); Redis hands them back as strings. */
export const storedIntegerSchema = z.string().regex(/^-?\d+$/).transform(Number);

/** A stored duration (history lists): any finite number as written by String(number). */
export const storedNumberSchema = z
  .string()
  .transform(Number)
  .refine((n) => Number.isFinite(n), 'not a finite number');

export const countersSchema = z
  .record(z.string(), storedIntegerSchema)
  .transform((raw): StoreCounters => {
    const counters = {} as StoreCounters;
    for (const name of COUNTER_NAMES) counters[name] = raw[name] ?? 0;
    return counters;
  });

/** Where a record was read from, for the CORRUPT_STATE message. */
export interface RecordLocation {
  prefix: string;
  key: string;
  /** Hash field, when the record is one field of a hash. */
  field?: string;
}

/** Parses one stored JSON record, or throws CORRUPT_STATE naming the key and the fix. */
export function parseStoredJson<S extends z.ZodType>(schema: S, raw: string, what: string, at: RecordLocation): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw corruptStateError(at, what, `not JSON (${(error as Error).message})`);
  }
  return parseStoredValue(schema, value, what, at);
}

/** Validates a value read from Redis (already decoded), or throws CORRUPT_STATE. */
export function parseStoredValue<S extends z.ZodType>(schema: S, value: unknown, what: string, at: RecordLocation): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
  throw corruptStateError(at, what, problems);
}

/**
 * The one CORRUPT_STATE error of the Redis store, whether TypeScript's validation or a Lua script found the
 * damage. Names the key (and hash field), what was expected and how to recover.
 */
export function corruptStateError(at: RecordLocation, what: string, problem: string): PoolError {
  const where = at.field ? `field ${JSON.stringify(at.field)} of Redis key ${at.key}` : `Redis key ${at.key}`;
  const fix = at.field ? `redis-cli HDEL ${at.key} ${at.field}` : `redis-cli DEL ${at.key}`;
  return new PoolError(
    'CORRUPT_STATE',
    `${where} does not hold a valid ${what}: ${problem}. Pool state under prefix '${at.prefix}' was written by ` +
      `something else or an incompatible version. Delete that key (${fix}) or flush the prefix ` +
      `(redis-cli --scan --pattern '${at.prefix}:*' | xargs redis-cli DEL) and restart the run; nothing was changed.`,
    { prefix: at.prefix, key: at.key, ...(at.field ? { field: at.field } : {}), what, problem },
  );
}
