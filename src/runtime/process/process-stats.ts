import type { RuntimeStats } from '../container-runtime.js';
import { CLOCK_TICKS_PER_SECOND, processTree, readMemoryKb, readUptimeSeconds } from '../proc-table.js';

/** CPU ticks of a tree at a moment, kept between two stats() calls. */
export interface CpuSample {
  ticks: number;
  atMs: number;
}

/**
 * Memory (PSS, MB) and CPU (% of one core) of a server and its Chromium, from /proc. CPU is the average since
 * `previous`, or, on the first call, since the server started, so no call has to sleep to measure.
 */
export function serverTreeStats(pid: number, previous: CpuSample | undefined): { stats: RuntimeStats; sample: CpuSample } {
  const tree = processTree(pid);
  const memoryKb = tree.reduce((sum, e) => sum + readMemoryKb(e.pid), 0);
  const ticks = tree.reduce((sum, e) => sum + e.cpuTicks, 0);
  const atMs = performance.now();
  let cpuPercent: number;
  if (previous) {
    const seconds = (atMs - previous.atMs) / 1000;
    // Ticks of helpers that exited since the last sample vanish from the sum: clamp, never report < 0.
    cpuPercent = seconds > 0 ? Math.max(0, (ticks - previous.ticks) / CLOCK_TICKS_PER_SECOND / seconds) * 100 : 0;
  } else {
    const leader = tree.find((e) => e.pid === pid);
    const lifetime = leader ? readUptimeSeconds() - leader.startTime / CLOCK_TICKS_PER_SECOND : 0;
    cpuPercent = lifetime > 0 ? (ticks / CLOCK_TICKS_PER_SECOND / lifetime) * 100 : 0;
  }
  return {
    stats: { memoryMB: Math.round((memoryKb / 1024) * 10) / 10, cpuPercent: Math.round(cpuPercent * 10) / 10 },
    sample: { ticks, atMs },
  };
}
