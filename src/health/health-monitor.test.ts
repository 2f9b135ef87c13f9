import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../clock/fake-clock.js';
import { DEFAULT_MEMORY_THRESHOLD_SHARE, healthConfigSchema } from '../config/schemas.js';
import type { ContainerState } from '../domain/container-state.js';
import { FakeHealthGate, FakeRuntime } from '../../test/support/fakes.js';
import { HealthMonitor, type HealthMonitorEvents } from './health-monitor.js';

function setup(config: Record<string, unknown> = {}, states: ContainerState[] = ['Available', 'Allocated']) {
  const clock = new FakeClock();
  const runtime = new FakeRuntime();
  const health = new FakeHealthGate();
  const targets = states.map((state, i) => ({ id: `container-${i + 1}`, port: 3001 + i, state, memoryLimitMB: 512 }));
  const monitor = new HealthMonitor({
    runtime,
    health,
    clock,
    config: healthConfigSchema.parse({ healthCheckIntervalMs: 1000, unhealthyThreshold: 2, ...config }),
    targets: async () => targets,
  });
  const seen: Array<{ name: string; payload: unknown }> = [];
  for (const name of ['containerUnhealthy', 'containerRecovered', 'memoryThresholdExceeded', 'zombieProcesses', 'sessionsLeftOpen', 'containerHealthy'] as const) {
    monitor.on(name, (payload) => seen.push({ name, payload }));
  }
  const named = <K extends keyof HealthMonitorEvents>(name: K) => seen.filter((e) => e.name === name).map((e) => e.payload as HealthMonitorEvents[K]);
  return { clock, runtime, health, monitor, targets, named };
}

describe('HealthMonitor', () => {
  it('reports a runtime death at once, without waiting for a round', async () => {
    const { monitor, runtime, named } = setup();
    monitor.start();
    runtime.kill('container-2', 'exited with code 137');
    expect(named('containerUnhealthy')).toEqual([{ containerId: 'container-2', consecutiveFailures: 2, reason: 'died: exited with code 137' }]);
    await monitor.stop();
  });

  it('declares a container unhealthy after unhealthyThreshold failed rounds, and recovered when it passes again', async () => {
    const { monitor, health, clock, named } = setup();
    monitor.start();
    health.notReady.set('container-1', 'mcp');
    await clock.advance(1000);
    expect(named('containerUnhealthy')).toEqual([]);
    await clock.advance(1000);
    expect(named('containerUnhealthy')).toMatchObject([{ containerId: 'container-1', consecutiveFailures: 2, reason: expect.stringContaining("'mcp'") }]);
    health.notReady.delete('container-1');
    await clock.advance(1000);
    expect(named('containerRecovered')).toEqual([{ containerId: 'container-1' }]);
    await monitor.stop();
  });

  it('checks only serving containers, and never overlaps rounds', async () => {
    const { monitor, health, clock } = setup({}, ['Available', 'Cleaning', 'Resetting']);
    let inFlight = 0;
    let maxInFlight = 0;
    const original = health.isContainerReady.bind(health);
    health.isContainerReady = async (port, id) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return original(port, id);
    };
    monitor.start();
    const a = monitor.checkNow();
    const b = monitor.checkNow();
    expect(a).toBe(b);
    await a;
    await clock.advance(1000);
    await monitor.checkNow();
    expect(health.checks.every((id) => id === 'container-1')).toBe(true);
    expect(maxInFlight).toBe(1);
    await monitor.stop();
  });

  it('emits memoryThresholdExceeded from measured stats, zombies, and sessions left open on a free container', async () => {
    const { monitor, runtime, named } = setup({ memoryThresholdMB: 300 });
    runtime.memoryMB.set('container-2', 420);
    runtime.execHandler = (_id, argv) => {
      const script = argv.join(' ');
      if (script.includes('/proc/net/tcp')) return { exitCode: 0, stdout: '2\n', stderr: '' };
      return { exitCode: 0, stdout: '4711 chromium\n', stderr: '' };
    };
    await monitor.checkNow();
    expect(named('memoryThresholdExceeded')).toEqual([{ containerId: 'container-2', memoryUsage: 420, threshold: 300 }]);
    // A zombie is reported only when it is still there a round later (a just-killed browser is one briefly).
    expect(named('zombieProcesses')).toEqual([]);
    await monitor.checkNow();
    expect(named('zombieProcesses').map((z) => z.processes)).toEqual([['4711 chromium'], ['4711 chromium']]);
    // Sessions count only where nobody holds the container: container-1 is Available, container-2 Allocated.
    expect(named('sessionsLeftOpen')).toEqual([
      { containerId: 'container-1', sessions: 2 },
      { containerId: 'container-1', sessions: 2 },
    ]);
  });

  it('defaults the memory threshold to DEFAULT_MEMORY_THRESHOLD_SHARE of the limit', async () => {
    const { monitor, runtime, named } = setup();
    const threshold = Math.round(512 * DEFAULT_MEMORY_THRESHOLD_SHARE); // 461 MB with the share of 0.9
    runtime.memoryMB.set('container-1', threshold);
    runtime.memoryMB.set('container-2', threshold + 1);
    await monitor.checkNow();
    expect(named('memoryThresholdExceeded')).toEqual([{ containerId: 'container-2', memoryUsage: threshold + 1, threshold }]);
    await flushMicrotasks();
  });
});
