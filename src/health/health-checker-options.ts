import { z } from 'zod';
import { SystemClock, type Clock } from '../clock/clock.js';
import { parseOptions } from '../config/parse-options.js';
import { healthConfigSchema } from '../config/schemas.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { callback, injected } from '../config/injected.js';

/** @defaultValue the tools a Playwright MCP server must list to count as ready. */
export const DEFAULT_REQUIRED_TOOLS: readonly string[] = ['browser_navigate', 'browser_snapshot'];
/** @defaultValue '127.0.0.1': the address the TCP stage connects to. */
export const DEFAULT_TCP_HOST = '127.0.0.1';


/**
 * The gate's budgets with the pool's rules and defaults. Not strict: the pool passes its whole `health`
 * config, whose other fields (interval, threshold) are the monitor's.
 */
const gateBudgetsSchema = healthConfigSchema.pick({ stageTimeoutMs: true, startupTimeoutMs: true }).strip();

export const healthCheckerOptionsSchema = z
  .object({
    /**
     * Budgets: `stageTimeoutMs` per stage, `startupTimeoutMs` for the whole gate, ms.
     * @defaultValue DEFAULT_HEALTH_STAGE_TIMEOUT_MS / DEFAULT_STARTUP_TIMEOUT_MS (src/config/schemas.ts)
     */
    config: gateBudgetsSchema.prefault({}),
    /** Asked for the runtime stage; without it (or without a containerId) that stage is skipped as passed. */
    runtime: injected<ContainerRuntime>('ContainerRuntime').optional(),
    /** Budgets and durations run on its monotonic(); pauses on its timers. @defaultValue SystemClock */
    clock: injected<Clock>('Clock').default(() => new SystemClock()),
    /**
     * The pool's credential for a member (MemberCredentials.forPool), sent with the MCP stage: pool members admit
     * no request without one. Without it (or without a containerId) the stage sends none, for an MCP server
     * with no guard in front.
     */
    credentialFor: callback<(containerId: string) => string>().optional(),
    /** Tools `tools/list` must include. @defaultValue {@link DEFAULT_REQUIRED_TOOLS} */
    requiredTools: z.array(z.string().min(1)).readonly().default(DEFAULT_REQUIRED_TOOLS),
    /** Address the TCP stage connects to. @defaultValue {@link DEFAULT_TCP_HOST} */
    tcpHost: z.string().min(1).default(DEFAULT_TCP_HOST),
    /**
     * MCP endpoint of a port. The host must be `localhost`: @playwright/mcp refuses other Host headers (403).
     * @defaultValue `http://localhost:<port>/mcp`
     */
    mcpUrl: z
      .custom<(port: number) => URL>((value) => typeof value === 'function', { message: 'must be a function' })
      .default(() => (port: number) => new URL(`http://localhost:${port}/mcp`)),
  })
  .strict();
export type HealthCheckerOptions = z.input<typeof healthCheckerOptionsSchema>;
export type HealthCheckerConfig = z.output<typeof healthCheckerOptionsSchema>;

/** Validates and defaults HealthChecker's options (INVALID_OPTIONS listing every bad field). */
export function parseHealthCheckerOptions(input: HealthCheckerOptions | undefined): HealthCheckerConfig {
  return parseOptions(healthCheckerOptionsSchema, input, 'HealthChecker options');
}
