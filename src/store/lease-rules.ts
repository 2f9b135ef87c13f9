import type { ContainerRecord, ResourceRequirements } from './pool-store.js';

/** Whether a container's limits could ever meet the requirements (usage aside). */
export function limitsSatisfy(container: Pick<ContainerRecord, 'limits'>, req: ResourceRequirements): boolean {
  return container.limits.memoryMB >= (req.minMemoryMB ?? 0) && container.limits.cpuPercent >= (req.maxCpuPercent ?? 0);
}

/** Whether the container can serve the request now: limits, and memory left after its last measured use. */
export function containerSatisfies(container: Pick<ContainerRecord, 'limits' | 'usage'>, req: ResourceRequirements): boolean {
  if (!limitsSatisfy(container, req)) return false;
  const used = container.usage?.memoryMB ?? 0;
  return container.limits.memoryMB - used >= (req.minMemoryMB ?? 0);
}

/** The largest memory and CPU limits among the containers (each taken separately), for an UNSATISFIABLE_REQUEST message. */
export function largestLimits(containers: readonly Pick<ContainerRecord, 'limits'>[]): ContainerRecord['limits'] {
  return containers.reduce(
    (acc, c) => ({ memoryMB: Math.max(acc.memoryMB, c.limits.memoryMB), cpuPercent: Math.max(acc.cpuPercent, c.limits.cpuPercent) }),
    { memoryMB: 0, cpuPercent: 0 },
  );
}
