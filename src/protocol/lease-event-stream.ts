import { request as httpRequest, type Agent } from 'node:http';
import { PoolError } from '../errors/pool-error.js';
import type { LeaseRef } from '../pool/container-pool-manager.js';
import { leasePath } from './api-paths.js';
import { leaseEventSchema, type LeaseEvent } from './coordinator-api.js';
import { knownCode, readBody, safeJson, toPoolError, unreachable } from './coordinator-reply.js';

export interface LeaseEventSubscription {
  /** Settles when the stream is open (the subscription is in place) or failed to open. */
  readonly ready: Promise<void>;
  /** Stops listening now (the stream's socket is dropped if the server has not ended the stream yet). */
  close(): void;
  /**
   * Stops listening, but lets the server end the stream first (it does, right after it publishes the lease's
   * end) so the socket goes back to the keep-alive pool for the next subscription; closes after `graceMs`.
   */
  closeAfterEnd(graceMs?: number): void;
}

/** Where a stream is opened: the coordinator, the run's token, and an agent of its own. */
export interface StreamTarget {
  url: URL;
  token: string;
  /** Kept apart from the calls' agent, so an open stream never holds one of the calls' sockets. */
  agent: Agent;
}

/**
 * Listens for the end of `lease` on `GET /v1/leases/:id/events` (server-sent events): `onEvent` gets
 * 'revoked', 'expired' or 'released' at most once; `onError` hears a stream that broke or was refused.
 */
export function openLeaseEventStream(
  target: StreamTarget,
  lease: LeaseRef,
  onEvent: (event: LeaseEvent) => void,
  onError: (error: PoolError) => void,
): LeaseEventSubscription {
  let closed = false;
  let ended = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let settle!: { resolve(): void; reject(e: unknown): void };
  const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  ready.catch(() => undefined);
  const req = httpRequest(
    new URL(`${leasePath(lease.leaseId, 'events')}?token=${lease.token}`, target.url),
    { method: 'GET', headers: { authorization: `Bearer ${target.token}`, accept: 'text/event-stream' }, agent: target.agent },
    (res) => {
      if (res.statusCode !== 200) {
        void readBody(res).then((body) => {
          const error = toPoolError(res.statusCode ?? 0, body, 'GET lease events');
          settle.reject(error);
          if (!closed) onError(error);
        });
        return;
      }
      settle.resolve();
      res.setEncoding('utf8');
      let buffer = '';
      let delivered = false;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const parsed = parseFrame(frame);
          if (!parsed || closed || delivered) continue;
          if (parsed.event === 'error') {
            const e = safeJson(parsed.data) as { code?: string; message?: string } | undefined;
            onError(new PoolError(knownCode(e?.code), e?.message ?? 'lease event stream refused', { leaseId: lease.leaseId }));
            continue;
          }
          const event = leaseEventSchema.safeParse(safeJson(parsed.data));
          if (event.success) {
            delivered = true;
            onEvent(event.data);
          }
        }
      });
      res.on('error', () => undefined);
      res.on('end', () => {
        ended = true;
        clearTimeout(graceTimer);
        if (!closed && !delivered) onError(new PoolError('COORDINATOR_UNAVAILABLE', `The lease event stream of ${lease.leaseId} ended without an event.`, { leaseId: lease.leaseId }));
      });
    },
  );
  req.on('error', (error) => {
    const e = unreachable(target.url, error);
    settle.reject(e);
    if (!closed) onError(e);
  });
  req.end();
  const close = () => {
    closed = true;
    clearTimeout(graceTimer);
    if (!ended) req.destroy();
  };
  return {
    ready,
    close,
    closeAfterEnd: (graceMs = 1_000) => {
      closed = true;
      if (ended) return;
      clearTimeout(graceTimer);
      graceTimer = setTimeout(close, graceMs);
      graceTimer.unref();
    },
  };
}

function parseFrame(frame: string): { event: string; data: string } | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length ? { event, data: data.join('\n') } : undefined;
}
