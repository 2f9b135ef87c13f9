import { PRIORITY_RANK } from '../domain/priority.js';
import { containerSatisfies } from './lease-rules.js';
import type { ContainerRecord, QueuedRequest } from './pool-store.js';

/** The tenant of requests and leases that name none ('' on the wire: the field is left out). */
export const DEFAULT_TENANT = '';

export function tenantOf(record: { tenant?: string | undefined }): string {
  return record.tenant ?? DEFAULT_TENANT;
}

/** The request as stores keep it: a tenant of '' is the default tenant and is left out, like no tenant. */
export function withoutDefaultTenant<R extends { tenant?: string }>(request: R): R {
  if (request.tenant !== DEFAULT_TENANT) return request;
  const { tenant: _default, ...rest } = request;
  return rest as R;
}

export interface PlannedGrant<C> {
  request: QueuedRequest;
  container: C;
}

/**
 * The dispatch pass's choice, pure (the memory store's; its Lua twin is planDispatch in
 * lua/includes/dispatch.lua and must choose the same). Priority ranks are served in order and a rank is done
 * before the next one is looked at: priority always wins. Inside a rank, fair share: each next grant goes to
 * the tenant with the fewest active leases (`active`, counting the grants this pass already made, of every
 * rank), ties to the earliest arrival (seq). A request is skipped, not waited for, when its deadline has
 * passed, its tenant holds its tenantQuota or more, or no free container satisfies it. With one tenant (no
 * tenants at all) that is plain seq order: the pass before tenants existed.
 *
 * `queue` is in service order (rank, then seq); `free` lists the Available containers in registration order
 * and is consumed; `active` (tenant → active leases) is updated with the grants made.
 */
export function planDispatch<C extends Pick<ContainerRecord, 'limits' | 'usage'>>(
  queue: readonly QueuedRequest[],
  free: C[],
  active: Map<string, number>,
  now: number,
): Array<PlannedGrant<C>> {
  const grants: Array<PlannedGrant<C>> = [];
  let start = 0;
  while (start < queue.length && free.length > 0) {
    const rank = PRIORITY_RANK[queue[start]!.priority];
    let end = start;
    while (end < queue.length && PRIORITY_RANK[queue[end]!.priority] === rank) end++;
    const waiting = queue.slice(start, end).filter((r) => r.deadline > now);
    for (;;) {
      const pick = fairestServable(waiting, free, active);
      if (!pick) break;
      const [container] = free.splice(pick.slot, 1);
      const request = waiting.splice(pick.index, 1)[0]!;
      active.set(tenantOf(request), (active.get(tenantOf(request)) ?? 0) + 1);
      grants.push({ request, container: container! });
      if (free.length === 0) break;
    }
    start = end;
  }
  return grants;
}

/** The next request of one rank to serve (fewest active leases for its tenant, then seq) and its container. */
function fairestServable<C extends Pick<ContainerRecord, 'limits' | 'usage'>>(
  waiting: readonly QueuedRequest[],
  free: readonly C[],
  active: ReadonlyMap<string, number>,
): { index: number; slot: number } | undefined {
  let best: { index: number; slot: number; held: number } | undefined;
  waiting.forEach((request, index) => {
    const held = active.get(tenantOf(request)) ?? 0;
    if (request.tenantQuota !== undefined && held >= request.tenantQuota) return;
    // Seq order inside the rank: only a strictly smaller count takes the place of an earlier request.
    if (best && held >= best.held) return;
    const slot = free.findIndex((c) => containerSatisfies(c, request.requirements));
    if (slot >= 0) best = { index, slot, held };
  });
  return best && { index: best.index, slot: best.slot };
}
