import type { ContainerSpec } from '../config/pool-config.js';
import { PoolError } from '../errors/pool-error.js';

/** The spec of `containerId`, or UNKNOWN_CONTAINER. */
export function specOf(specs: readonly ContainerSpec[], containerId: string): ContainerSpec {
  const spec = specs.find((s) => s.id === containerId);
  if (!spec) throw new PoolError('UNKNOWN_CONTAINER', `No container ${JSON.stringify(containerId)} in this pool.`, { containerId });
  return spec;
}
