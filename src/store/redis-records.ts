import type { z } from 'zod';
import type { ContainerRecord, EndedLease, Grant, Lease, QueuedRequest } from './pool-store.js';
import {
  containerRecordSchema,
  endedLeaseSchema,
  leaseSchema,
  parseStoredJson,
  queuedRequestSchema,
  type RecordLocation,
} from './record-schemas.js';
import type { Reply } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';

/** Reads the Redis store's JSON records back, each validated and, when damaged, named by its key (CORRUPT_STATE). */
export class RedisRecordReader {
  constructor(private readonly keys: RedisKeys) {}

  container(raw: string, id: string): ContainerRecord {
    return this.parse(containerRecordSchema, raw, 'container record', { key: this.keys.containers, field: id });
  }

  request(raw: string, requestId: string): QueuedRequest {
    return this.parse(queuedRequestSchema, raw, 'queued request', { key: this.keys.requests, field: requestId });
  }

  lease(raw: string, leaseId = leaseIdOf(raw)): Lease {
    return this.parse(leaseSchema, raw, 'lease', { key: this.keys.lease(leaseId) });
  }

  ended(raw: string, leaseId: string): EndedLease {
    return this.parse(endedLeaseSchema, raw, 'ended lease', { key: this.keys.ended(leaseId) });
  }

  /** A dispatch pass's reply: request JSON, lease JSON, request JSON, lease JSON... */
  grants(flat: Reply): Grant[] {
    const grants: Grant[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const lease = this.lease(String(flat[i + 1]));
      grants.push({ request: this.request(String(flat[i]), lease.requestId), lease });
    }
    return grants;
  }

  /** grants-for's reply: requestId, lease JSON, granted request JSON ('' when expired: rebuilt from the lease)... */
  grantsFor(flat: Reply): Grant[] {
    const grants: Grant[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const requestId = String(flat[i]);
      const lease = this.lease(String(flat[i + 1]));
      const raw = String(flat[i + 2] ?? '');
      grants.push({ request: raw === '' ? requestFromLease(lease) : this.request(raw, requestId), lease });
    }
    return grants;
  }

  /** list-leases' reply: leaseId, lease JSON or null (the key's safety-net TTL fired; reclaimExpired ends it)... */
  leases(flat: Reply): Lease[] {
    const leases: Lease[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const raw = flat[i + 1];
      if (raw !== null && raw !== undefined) leases.push(this.lease(String(raw), String(flat[i])));
    }
    return byGrantOrder(leases);
  }

  private parse<S extends z.ZodType>(schema: S, raw: string, what: string, at: Omit<RecordLocation, 'prefix'>): z.output<S> {
    return parseStoredJson(schema, raw, what, { prefix: this.keys.prefix, ...at });
  }
}

/** grantsFor when the granted request's record has expired: what the lease still says (see PoolStore.grantsFor). */
export function requestFromLease(lease: Lease): QueuedRequest {
  const { requestId, testRunId, priority, requestedAt, grantedAt } = lease;
  return { requestId, testRunId, priority, requestedAt, deadline: grantedAt, requirements: {}, attempt: 0, seq: 0 };
}

/** Active leases in grant order (token order), as the memory store lists them. */
export function byGrantOrder(leases: Lease[]): Lease[] {
  return leases.sort((a, b) => a.token - b.token);
}

/** Best-effort lease id from a record, only to name its key in a CORRUPT_STATE message. */
function leaseIdOf(raw: string): string {
  try {
    const value: unknown = JSON.parse(raw);
    if (value && typeof value === 'object' && typeof (value as { leaseId?: unknown }).leaseId === 'string') return (value as { leaseId: string }).leaseId;
  } catch {
    // unreadable: the parse that follows reports it
  }
  return '<unknown>';
}
