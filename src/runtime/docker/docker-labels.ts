import type { RunContext } from '../container-runtime.js';

/** Pool identity; `reapLeftovers` and the event stream select by it. */
export const POOL_LABEL = 'cinnamon-qa.pool';
/** Run identity; a leftover is anything of this pool with another run id. */
export const RUN_LABEL = 'cinnamon-qa.run';
/** Pool container id (`container-1`), so an event or a leftover names the pool slot it belonged to. */
export const CONTAINER_LABEL = 'cinnamon-qa.container';

export function runLabels(ctx: RunContext, containerId?: string): Record<string, string> {
  const labels: Record<string, string> = { [POOL_LABEL]: ctx.poolId, [RUN_LABEL]: ctx.runId };
  if (containerId !== undefined) labels[CONTAINER_LABEL] = containerId;
  return labels;
}

/** Docker filter value (`label=<key>=<value>`) selecting everything of one pool. */
export function poolLabelFilter(poolId: string): string {
  return `${POOL_LABEL}=${poolId}`;
}
