import { describe, expect, it } from 'vitest';
import { SystemClock } from '../clock/clock.js';
import { DEFAULT_HEALTH_STAGE_TIMEOUT_MS, DEFAULT_STARTUP_TIMEOUT_MS, healthConfigSchema } from '../config/schemas.js';
import { expectOneRefusal } from '../../test/support/options-refusal.js';
import { HealthChecker } from './health-checker.js';
import { DEFAULT_REQUIRED_TOOLS, DEFAULT_TCP_HOST, parseHealthCheckerOptions, type HealthCheckerOptions } from './health-checker-options.js';


describe('HealthChecker options', () => {
  it('fill every default from its named constant', () => {
    const config = parseHealthCheckerOptions(undefined);
    expect(config).toEqual({
      config: { stageTimeoutMs: DEFAULT_HEALTH_STAGE_TIMEOUT_MS, startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS },
      clock: expect.any(SystemClock),
      requiredTools: DEFAULT_REQUIRED_TOOLS,
      tcpHost: DEFAULT_TCP_HOST,
      mcpUrl: expect.any(Function),
    });
    expect(config.mcpUrl(3005).href).toBe('http://localhost:3005/mcp');
    expect(parseHealthCheckerOptions({ config: { stageTimeoutMs: 700 } }).config).toEqual({ stageTimeoutMs: 700, startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS });
  });

  it("take the pool's whole health config, of which the gate reads its two budgets", () => {
    const health = healthConfigSchema.parse({ stageTimeoutMs: 1_000, unhealthyThreshold: 4 });
    expect(parseHealthCheckerOptions({ config: health }).config).toEqual({ stageTimeoutMs: 1_000, startupTimeoutMs: DEFAULT_STARTUP_TIMEOUT_MS });
  });

  it('refuse each bad option with one INVALID_OPTIONS naming the field and the value', () => {
    const cases: Array<[HealthCheckerOptions, RegExp]> = [
      [{ config: { stageTimeoutMs: 0 } }, /config\.stageTimeoutMs: .*\(got 0\)/],
      [{ config: { startupTimeoutMs: 1.5 } }, /config\.startupTimeoutMs: .*\(got 1\.5\)/],
      [{ requiredTools: ['browser_navigate', ''] }, /requiredTools\.1: .*\(got ""\)/],
      [{ tcpHost: '' }, /tcpHost: .*\(got ""\)/],
      [{ mcpUrl: 'http://localhost/mcp' } as never, /mcpUrl: must be a function/],
      [{ timeoutMs: 5 } as never, /unknown option 'timeoutMs'/],
    ];
    for (const [input, problem] of cases) expectOneRefusal(() => new HealthChecker(input), 'HealthChecker options', problem);
  });
});
