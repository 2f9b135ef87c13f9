import { describe, expect, it } from 'vitest';
import { runtimeStatsFromDocker } from './container-stats.js';

const MB = 1024 * 1024;

describe('runtimeStatsFromDocker', () => {
  it('subtracts inactive page cache and computes CPU in percent of one core', () => {
    const stats = runtimeStatsFromDocker({
      memory_stats: { usage: 300 * MB, stats: { total_inactive_file: 100 * MB } },
      // 0.4 s of CPU over 1 s of wall time on 2 cores (system delta 2 s): 40 % of one core.
      cpu_stats: { cpu_usage: { total_usage: 1_400_000_000 }, system_cpu_usage: 12_000_000_000, online_cpus: 2 },
      precpu_stats: { cpu_usage: { total_usage: 1_000_000_000 }, system_cpu_usage: 10_000_000_000 },
    });
    expect(stats).toEqual({ memoryMB: 200, cpuPercent: 40 });
  });

  it('reads cgroup v2 inactive_file and reports 0 % CPU without a previous sample', () => {
    expect(
      runtimeStatsFromDocker({
        memory_stats: { usage: 50 * MB, stats: { inactive_file: 10 * MB } },
        cpu_stats: { cpu_usage: { total_usage: 5 }, system_cpu_usage: 10, online_cpus: 2 },
        precpu_stats: { cpu_usage: {} },
      }),
    ).toEqual({ memoryMB: 40, cpuPercent: 0 });
  });

  it('returns undefined for the empty answer of a stopped container', () => {
    expect(runtimeStatsFromDocker({ memory_stats: {}, cpu_stats: { cpu_usage: { total_usage: 0 } } })).toBeUndefined();
    expect(runtimeStatsFromDocker('nonsense')).toBeUndefined();
  });
});
