import { z } from 'zod';
import type { RuntimeStats } from '../container-runtime.js';

const cpuSchema = z.object({
  cpu_usage: z.object({ total_usage: z.number(), percpu_usage: z.array(z.number()).nullish() }).loose(),
  system_cpu_usage: z.number().nullish(),
  online_cpus: z.number().nullish(),
}).loose();

const statsSchema = z.object({
  memory_stats: z
    .object({
      usage: z.number().nullish(),
      stats: z.record(z.string(), z.number()).nullish(),
    })
    .loose(),
  cpu_stats: cpuSchema,
  // Empty or partial when Docker has no earlier sample yet (a just-started container).
  precpu_stats: z
    .object({
      cpu_usage: z.object({ total_usage: z.number().nullish() }).loose().nullish(),
      system_cpu_usage: z.number().nullish(),
    })
    .loose()
    .nullish(),
}).loose();

/**
 * Memory in MB and CPU in percent of one core (the unit of ContainerSpec.cpuPercent) from one non-streamed
 * `GET /containers/{id}/stats` answer. Docker fills `precpu_stats` with the sample taken about a second earlier,
 * so the CPU figure is the average over that second. Memory leaves out the inactive page cache, as `docker stats`
 * does, because the kernel reclaims it before the limit bites.
 * Returns undefined when the answer is not stats of a running container (stopped containers return zeros).
 */
export function runtimeStatsFromDocker(raw: unknown): RuntimeStats | undefined {
  const parsed = statsSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const { memory_stats: memory, cpu_stats: cpu, precpu_stats: precpu } = parsed.data;
  if (memory.usage == null) return undefined;

  // cgroup v1 reports total_inactive_file, cgroup v2 inactive_file.
  const inactive = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0;
  const memoryMB = Math.max(0, memory.usage - (inactive < memory.usage ? inactive : 0)) / (1024 * 1024);

  let cpuPercent = 0;
  const previousTotal = precpu?.cpu_usage?.total_usage;
  const previousSystem = precpu?.system_cpu_usage;
  if (previousTotal != null && previousSystem != null && cpu.system_cpu_usage != null) {
    const cpuDelta = cpu.cpu_usage.total_usage - previousTotal;
    const systemDelta = cpu.system_cpu_usage - previousSystem;
    const cores = cpu.online_cpus ?? cpu.cpu_usage.percpu_usage?.length ?? 1;
    // system_cpu_usage counts every core, so the share of all cores times the core count is "% of one core".
    if (cpuDelta > 0 && systemDelta > 0) cpuPercent = (cpuDelta / systemDelta) * cores * 100;
  }
  return { memoryMB: round1(memoryMB), cpuPercent: round1(cpuPercent) };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
