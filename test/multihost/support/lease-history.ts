import type { Redis } from 'ioredis';
import { auditEventSchema, endedLeaseSchema, leaseSchema } from '../../../src/store/record-schemas.js';
import type { AuditEvent } from '../../../src/store/pool-store.js';

/** One lease as the store recorded it: granted and ended by Lua scripts, on one clock (the store's). */
export interface LeaseSpan {
  readonly leaseId: string;
  readonly containerId: string;
  readonly token: number;
  readonly grantedAt: number;
  /** null: still active. */
  readonly endedAt: number | null;
  readonly reason: 'released' | 'expired' | 'revoked' | 'active';
}

/**
 * Every lease a pool's Redis still knows: active ones (`<prefix>:lease:*`) and ended ones (`<prefix>:ended:*`, kept
 * an hour after they end), plus the audit list (`<prefix>:audit`). Records that fail their schema throw: a test
 * must not pass by skipping what it cannot read.
 */
export async function readLeaseHistory(redis: Redis, prefix: string): Promise<{ spans: LeaseSpan[]; audit: AuditEvent[] }> {
  const spans: LeaseSpan[] = [];
  for (const key of await scanKeys(redis, `${prefix}:ended:*`)) {
    const raw = await redis.get(key);
    if (raw === null) continue;
    const ended = endedLeaseSchema.parse(JSON.parse(raw));
    const { leaseId, containerId, token, grantedAt } = ended.lease;
    spans.push({ leaseId, containerId, token, grantedAt, endedAt: ended.endedAt, reason: ended.reason });
  }
  for (const key of await scanKeys(redis, `${prefix}:lease:*`)) {
    const raw = await redis.get(key);
    if (raw === null) continue;
    const { leaseId, containerId, token, grantedAt } = leaseSchema.parse(JSON.parse(raw));
    spans.push({ leaseId, containerId, token, grantedAt, endedAt: null, reason: 'active' });
  }
  const audit = (await redis.lrange(`${prefix}:audit`, 0, -1)).map((raw) => auditEventSchema.parse(JSON.parse(raw)) as AuditEvent);
  return { spans, audit };
}

/**
 * Pairs of leases on one container whose spans overlap: in fencing-token order (the store's grant order), each
 * lease must have ended no later than the next one on the same container was granted. Both times come from the
 * same store scripts, so no clock of a shard enters the comparison.
 */
export function overlappingLeases(spans: readonly LeaseSpan[]): string[] {
  const byContainer = new Map<string, LeaseSpan[]>();
  for (const span of spans) byContainer.set(span.containerId, [...(byContainer.get(span.containerId) ?? []), span]);
  const problems: string[] = [];
  for (const [containerId, list] of byContainer) {
    list.sort((a, b) => a.token - b.token);
    for (let i = 1; i < list.length; i++) {
      const previous = list[i - 1]!;
      const next = list[i]!;
      if (previous.endedAt === null || previous.endedAt > next.grantedAt) {
        problems.push(
          `${containerId}: lease ${next.leaseId} (token ${next.token}) granted at ${next.grantedAt} while ${previous.leaseId} (token ${previous.token}) held it until ${previous.endedAt ?? 'now (still active)'}`,
        );
      }
    }
  }
  return problems;
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}
