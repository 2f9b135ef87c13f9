import type { Redis } from 'ioredis';
import { PRIORITY_RANK, type TestPriority } from '../../../src/domain/priority.js';
import { auditEventSchema, endedLeaseSchema, leaseSchema, storedIntegerSchema } from '../../../src/store/record-schemas.js';
import type { AuditEvent, Lease } from '../../../src/store/pool-store.js';
import { RedisKeys } from '../../../src/store/redis-keys.js';

/** One lease as the store recorded it: queued, granted and ended by Lua scripts, on one clock (the store's). */
export interface LeaseSpan {
  readonly leaseId: string;
  readonly containerId: string;
  readonly token: number;
  readonly requestId: string;
  /** `<test> @<runId>` (fixtures' testRunIdOf): the runId names the coordinator run, i.e. the shard, that asked. */
  readonly testRunId: string;
  readonly priority: TestPriority;
  /** The granted try's arrival counter and when it joined the queue (absent: written by an older version). */
  readonly seq: number | undefined;
  readonly queuedAt: number | undefined;
  readonly grantedAt: number;
  /** null: still active. */
  readonly endedAt: number | null;
  readonly reason: 'released' | 'expired' | 'revoked' | 'active';
}

function spanOf(lease: Lease, endedAt: number | null, reason: LeaseSpan['reason']): LeaseSpan {
  const { leaseId, containerId, token, requestId, testRunId, priority, seq, queuedAt, grantedAt } = lease;
  return { leaseId, containerId, token, requestId, testRunId, priority, seq, queuedAt, grantedAt, endedAt, reason };
}

export interface LeaseHistory {
  spans: LeaseSpan[];
  audit: AuditEvent[];
  /** The pool's arrival counter: every try ever queued has a seq in 1..triesQueued. */
  triesQueued: number;
}

/**
 * Every lease a pool's Redis still knows: active ones (`<prefix>:lease:*`) and ended ones (`<prefix>:ended:*`, kept
 * an hour after they end), the audit list (`<prefix>:audit`) and the request arrival counter. Records that fail
 * their schema throw: a test must not pass by skipping what it cannot read.
 */
export async function readLeaseHistory(redis: Redis, prefix: string): Promise<LeaseHistory> {
  const keys = new RedisKeys(prefix);
  const spans: LeaseSpan[] = [];
  for (const key of await scanKeys(redis, `${keys.endedPrefix}*`)) {
    const raw = await redis.get(key);
    if (raw === null) continue;
    const ended = endedLeaseSchema.parse(JSON.parse(raw));
    spans.push(spanOf(ended.lease, ended.endedAt, ended.reason));
  }
  for (const key of await scanKeys(redis, `${keys.leasePrefix}*`)) {
    const raw = await redis.get(key);
    if (raw === null) continue;
    spans.push(spanOf(leaseSchema.parse(JSON.parse(raw)), null, 'active'));
  }
  const audit = (await redis.lrange(keys.audit, 0, -1)).map((raw) => auditEventSchema.parse(JSON.parse(raw)) as AuditEvent);
  const seq = await redis.get(keys.requestSeq);
  return { spans, audit, triesQueued: seq === null ? 0 : storedIntegerSchema.parse(seq) };
}

/** A grant made while another try was in the queue: `waiting` was queued before `granted` got its lease and was granted after. */
export interface WaitingAtGrant {
  readonly granted: LeaseSpan;
  readonly waiting: LeaseSpan;
}

export interface PriorityOrderReport {
  /** Grants made while a try of strictly higher priority waited: each one breaks priority order. */
  readonly violations: string[];
  /** Grants made while a try of strictly lower priority waited: priority decided who went first (the evidence of contention). */
  readonly overtakes: WaitingAtGrant[];
  /** Arrival numbers (1..triesQueued) no lease carries: tries cancelled or timed out, whose wait the records cannot show. */
  readonly untracked: number[];
  /** Leases without seq or queuedAt (granted by a store version that did not record them): not checkable. */
  readonly unstamped: string[];
}

/**
 * Priority order over one pool's queue, from the store's records alone (every time on the store's clock, so the
 * shards' clocks never enter). A try waited at a grant at time g when it was queued strictly before g and granted
 * strictly after g: both times come from Lua scripts, and the pool serves one script at a time. Tries queued or
 * granted in the very millisecond of g are left out (their order against the grant is not recorded), so the
 * check may miss a violation in that millisecond but never reports one that did not happen. A waiting try that
 * was granted later was still before its deadline at g; with no resource requirements or tenant quotas, any
 * free member would have served it: so a grant while a higher-priority try waited is a fault of the dispatch.
 */
export function checkPriorityOrder(spans: readonly LeaseSpan[], triesQueued: number): PriorityOrderReport {
  const stamped = spans.filter((s) => s.seq !== undefined && s.queuedAt !== undefined);
  const unstamped = spans.filter((s) => !stamped.includes(s)).map((s) => s.leaseId);
  const violations: string[] = [];
  const overtakes: WaitingAtGrant[] = [];
  for (const granted of stamped) {
    const rank = PRIORITY_RANK[granted.priority];
    for (const waiting of stamped) {
      if (!(waiting.queuedAt! < granted.grantedAt && waiting.grantedAt > granted.grantedAt)) continue;
      const waitingRank = PRIORITY_RANK[waiting.priority];
      if (waitingRank < rank) {
        violations.push(
          `${granted.priority} ${granted.requestId} (seq ${granted.seq}) was granted ${granted.containerId} at ${granted.grantedAt} while ` +
            `${waiting.priority} ${waiting.requestId} (seq ${waiting.seq}) had been waiting since ${waiting.queuedAt} (granted only at ${waiting.grantedAt})`,
        );
      } else if (waitingRank > rank) {
        overtakes.push({ granted, waiting });
      }
    }
  }
  const carried = new Set(stamped.map((s) => s.seq));
  const untracked: number[] = [];
  for (let seq = 1; seq <= triesQueued; seq++) if (!carried.has(seq)) untracked.push(seq);
  return { violations, overtakes, untracked, unstamped };
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
