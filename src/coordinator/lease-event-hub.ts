import type { ServerResponse } from 'node:http';
import type { ContainerPoolManager } from '../pool/container-pool-manager.js';
import type { LeaseEvent } from '../protocol/coordinator-api.js';

/** Comment lines keep idle streams open through anything that closes quiet connections. */
const KEEPALIVE_MS = 15_000;

/**
 * Pushes the end of a lease to its holder as a server-sent event the moment the pool decides it (container
 * died → 'revoked', no heartbeat → 'expired', released → 'released'), then closes that stream. The holder
 * does not have to wait for its next renew to learn its container is gone.
 */
export class LeaseEventHub {
  private readonly streams = new Map<string, Set<ServerResponse>>();
  private readonly keepalive: NodeJS.Timeout;
  private readonly detach: () => void;

  constructor(manager: ContainerPoolManager) {
    const onRevoked = ({ lease, reason }: { lease: { leaseId: string; containerId: string }; reason: string }) =>
      this.publish({ type: 'revoked', leaseId: lease.leaseId, containerId: lease.containerId, reason });
    const onExpired = ({ lease }: { lease: { leaseId: string; containerId: string } }) =>
      this.publish({ type: 'expired', leaseId: lease.leaseId, containerId: lease.containerId });
    const onReleased = ({ lease }: { lease: { leaseId: string; containerId: string } }) =>
      this.publish({ type: 'released', leaseId: lease.leaseId, containerId: lease.containerId });
    manager.on('leaseRevoked', onRevoked);
    manager.on('leaseExpired', onExpired);
    manager.on('containerReleased', onReleased);
    this.detach = () => {
      manager.off('leaseRevoked', onRevoked);
      manager.off('leaseExpired', onExpired);
      manager.off('containerReleased', onReleased);
    };
    this.keepalive = setInterval(() => {
      for (const set of this.streams.values()) for (const res of set) res.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** Opens the event stream on `res`. Call before checking the lease, so an end in between is not missed. */
  open(leaseId: string, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    // Sends the headers now: the client knows it is subscribed.
    res.write(': subscribed\n\n');
    let set = this.streams.get(leaseId);
    if (!set) this.streams.set(leaseId, (set = new Set()));
    set.add(res);
    res.on('close', () => this.remove(leaseId, res));
  }

  /** Sends one event to one stream and ends it (used when the lease had already ended at subscription). */
  sendAndEnd(res: ServerResponse, event: LeaseEvent): void {
    this.remove(event.leaseId, res);
    res.end(frame(event));
  }

  /** Ends one stream without an event (the lease check refused the subscription after the stream opened). */
  endWithError(leaseId: string, res: ServerResponse, error: { code: string; message: string }): void {
    this.remove(leaseId, res);
    res.end(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
  }

  publish(event: LeaseEvent): void {
    const set = this.streams.get(event.leaseId);
    if (!set) return;
    this.streams.delete(event.leaseId);
    for (const res of set) res.end(frame(event));
  }

  get size(): number {
    let n = 0;
    for (const set of this.streams.values()) n += set.size;
    return n;
  }

  close(): void {
    clearInterval(this.keepalive);
    this.detach();
    for (const set of this.streams.values()) for (const res of set) res.end();
    this.streams.clear();
  }

  private remove(leaseId: string, res: ServerResponse): void {
    const set = this.streams.get(leaseId);
    if (!set) return;
    set.delete(res);
    if (set.size === 0) this.streams.delete(leaseId);
  }
}

function frame(event: LeaseEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
