import type { RunContext } from '../container-runtime.js';
import type { RunOwner } from '../run-owner.js';

/** Pool identity; `reapLeftovers` and the event stream select by it. */
export const POOL_LABEL = 'cinnamon-qa.pool';
/** Run identity; a leftover is anything of this pool with another run id whose owner is gone. */
export const RUN_LABEL = 'cinnamon-qa.run';
/** Pool container id (`container-1`), so an event or a leftover names the pool slot it belonged to. */
export const CONTAINER_LABEL = 'cinnamon-qa.container';
/** The process that runs the pool (host, pid, start time): while it lives, its containers are no leftovers. */
export const OWNER_HOST_LABEL = 'cinnamon-qa.owner-host';
export const OWNER_PID_LABEL = 'cinnamon-qa.owner-pid';
export const OWNER_START_LABEL = 'cinnamon-qa.owner-start';

export function runLabels(ctx: RunContext, containerId?: string, owner?: RunOwner): Record<string, string> {
  const labels: Record<string, string> = { [POOL_LABEL]: ctx.poolId, [RUN_LABEL]: ctx.runId };
  if (containerId !== undefined) labels[CONTAINER_LABEL] = containerId;
  if (owner) {
    labels[OWNER_HOST_LABEL] = owner.host;
    labels[OWNER_PID_LABEL] = String(owner.pid);
    if (owner.startTime !== undefined) labels[OWNER_START_LABEL] = String(owner.startTime);
  }
  return labels;
}

/** The owner stamped by runLabels; undefined for things made before owners were stamped, or unreadable labels. */
export function ownerFromLabels(labels: Record<string, string> | undefined): RunOwner | undefined {
  const host = labels?.[OWNER_HOST_LABEL];
  const pid = Number(labels?.[OWNER_PID_LABEL]);
  if (!host || !Number.isInteger(pid) || pid <= 0) return undefined;
  const start = labels?.[OWNER_START_LABEL];
  const startTime = start === undefined || start === '' ? undefined : Number(start);
  return { host, pid, ...(startTime !== undefined && Number.isFinite(startTime) ? { startTime } : {}) };
}

/** Docker filter value (`label=<key>=<value>`) selecting everything of one pool. */
export function poolLabelFilter(poolId: string): string {
  return `${POOL_LABEL}=${poolId}`;
}
