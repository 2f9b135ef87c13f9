import { PRIORITY_RANK } from '../domain/priority.js';
import type { NewRequest, QueuedRequest } from './pool-store.js';

/** The memory store's queue: requests kept in service order (priority rank, then arrival counter). */
export class MemoryRequestQueue {
  private items: QueuedRequest[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  has(requestId: string): boolean {
    return this.items.some((q) => q.requestId === requestId);
  }

  /** Gives the request the next arrival counter, notes when it was queued, and inserts it at its place in service order. */
  add(request: NewRequest, queuedAt: number): QueuedRequest {
    const queued: QueuedRequest = { ...request, requirements: { ...request.requirements }, seq: ++this.seq, queuedAt };
    const rank = PRIORITY_RANK[queued.priority];
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.items[mid]!;
      const otherRank = PRIORITY_RANK[other.priority];
      if (otherRank < rank || (otherRank === rank && other.seq < queued.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, queued);
    return queued;
  }

  remove(requestId: string): QueuedRequest | undefined {
    const index = this.items.findIndex((q) => q.requestId === requestId);
    return index < 0 ? undefined : this.items.splice(index, 1)[0];
  }

  /** Removes several requests in one pass (a dispatch pass's grants). */
  removeAll(requestIds: ReadonlySet<string>): void {
    if (requestIds.size > 0) this.items = this.items.filter((q) => !requestIds.has(q.requestId));
  }

  /** The stored requests in service order; callers must not change them. */
  inServiceOrder(): readonly QueuedRequest[] {
    return this.items;
  }

  /** Copies, in service order. */
  list(): QueuedRequest[] {
    return this.items.map(copyRequest);
  }
}

export function copyRequest(q: QueuedRequest): QueuedRequest {
  return { ...q, requirements: { ...q.requirements } };
}
