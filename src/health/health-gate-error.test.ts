import { describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import type { HealthReport } from './health-gate.js';
import { healthGateError } from './health-gate-error.js';

const failedAtMcp: HealthReport = {
  containerId: 'container-1',
  port: 3001,
  ready: false,
  failedStage: 'mcp',
  durationMs: 5012.4,
  stages: [
    { stage: 'tcp', ok: true, durationMs: 12 },
    { stage: 'mcp', ok: false, durationMs: 5000, error: 'no MCP answer from http://localhost:3001/mcp within the budget (7 attempts, last: fetch failed (ECONNRESET))' },
  ],
};

describe('healthGateError', () => {
  it('names the container, the stage, the cause and a fix', () => {
    const error = healthGateError(failedAtMcp, { containerName: 'cinnamon-qa-mcp-1' });
    expect(isPoolError(error, 'HEALTH_GATE_FAILED')).toBe(true);
    expect(error.message).toMatch(/^Container cinnamon-qa-mcp-1 \/ container-1 \(port 3001\) failed the health gate at stage 'mcp' after 5012 ms: /);
    expect(error.message).toContain('ECONNRESET');
    expect(error.message).toMatch(/Fix: .*health\.stageTimeoutMs/);
    expect(error.data).toMatchObject({ containerId: 'container-1', containerName: 'cinnamon-qa-mcp-1', port: 3001, failedStage: 'mcp' });
  });

  it('gives stage-specific fixes', () => {
    const tcp = healthGateError({ port: 3002, ready: false, failedStage: 'tcp', durationMs: 30_000, stages: [{ stage: 'tcp', ok: false, durationMs: 30_000, error: 'nothing accepted a connection' }] });
    expect(tcp.message).toMatch(/^The container on port 3002 failed .* stage 'tcp'.*Fix: make sure the server started/);
    const runtime = healthGateError({
      containerId: 'container-2',
      port: 3002,
      ready: false,
      failedStage: 'runtime',
      durationMs: 100,
      stages: [
        { stage: 'tcp', ok: true, durationMs: 1 },
        { stage: 'mcp', ok: true, durationMs: 80 },
        { stage: 'runtime', ok: false, durationMs: 1, error: 'docker runtime reports container container-2 not running: OOM killed' },
      ],
    });
    expect(runtime.message).toMatch(/OOM killed\. Fix: .*maxMemoryPerContainerMB/);
  });

  it('refuses a passing report', () => {
    const error = healthGateError({ port: 3001, ready: true, durationMs: 1, stages: [] });
    expect(isPoolError(error, 'INVALID_ARGUMENT')).toBe(true);
  });
});
