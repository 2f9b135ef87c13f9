/**
 * A host agent's write guard (scoped store, src/store/redis-host-registry.ts): the script refuses STALE_EPOCH
 * unless `epoch` still holds the host lease at `hostLeaseKey`. Package-internal.
 */
export interface HostFence {
  hostId: string;
  epoch: number;
  hostLeaseKey: string;
}

/**
 * The optional trailing ARGV of transition, record-usage and revoke: empty means no check; with a fence, the
 * epoch must still hold the host lease and the member must be the host's own (another host's is UNKNOWN_CONTAINER).
 */
export function fenceArgs(fence: HostFence | undefined): string[] {
  return fence ? [fence.hostLeaseKey, String(fence.epoch), fence.hostId] : [];
}

/** What a STALE_EPOCH refusal names. */
export function fenceContext(fence: HostFence | undefined): { hostId?: string; epoch?: number } {
  return fence ? { hostId: fence.hostId, epoch: fence.epoch } : {};
}
