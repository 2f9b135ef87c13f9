import { z } from 'zod';
import { SystemClock, type Clock } from '../clock/clock.js';
import { parseOptions } from '../config/parse-options.js';
import { RESET_STRATEGIES, type ResetStrategy } from '../config/schemas.js';
import type { HealthGate } from '../health/health-gate.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { endMemberSessions, type MemberSessionEnder } from '../runtime/member-reset.js';
import { injected, callback } from '../config/injected.js';

/**
 * Budget of one attempt per strategy, in ms. Hard and recovery include the health gate that proves the
 * server answers again (a container start takes 1-2 s; a recreate in Docker a little more).
 */
export const DEFAULT_RESET_BUDGETS_MS: Readonly<Record<ResetStrategy, number>> = {
  soft: 5_000,
  medium: 10_000,
  hard: 30_000,
  recovery: 60_000,
};


export const containerResetOptionsSchema = z
  .object({
    /** Runs the reset scripts, restarts and recreates. */
    runtime: injected<ContainerRuntime>('ContainerRuntime'),
    /** Proves a server answers MCP after medium, hard and recovery. */
    health: injected<HealthGate>('HealthGate'),
    /** The port a container's server is reached on (its ContainerSpec.port). */
    portOf: callback<(containerId: string) => number>(),
    /** The pool's credential for a member (MemberCredentials.forPool): the soft reset is a call to its guard. */
    credentialFor: callback<(containerId: string) => string>(),
    /** The soft reset: every MCP session on the member ended, its browser kept. @defaultValue endMemberSessions */
    endSessions: callback<MemberSessionEnder>().default(() => endMemberSessions),
    /** Times attempts and enforces budgets. @defaultValue SystemClock */
    clock: injected<Clock>('Clock').default(() => new SystemClock()),
    /**
     * Per-strategy attempt budgets, ms; a strategy left out keeps its default.
     * @defaultValue {@link DEFAULT_RESET_BUDGETS_MS}
     */
    budgetsMs: z
      .partialRecord(z.enum(RESET_STRATEGIES), z.number().int('must be a whole number of ms').positive('must be more than 0 ms'))
      .default({})
      .transform((budgets): Record<ResetStrategy, number> => ({ ...DEFAULT_RESET_BUDGETS_MS, ...budgets })),
  })
  .strict();
export type ContainerResetManagerOptions = z.input<typeof containerResetOptionsSchema>;
export type ContainerResetManagerConfig = z.output<typeof containerResetOptionsSchema>;

/** Validates and defaults ContainerResetManager's options (INVALID_OPTIONS listing every bad field). */
export function parseContainerResetOptions(input: ContainerResetManagerOptions): ContainerResetManagerConfig {
  return parseOptions(containerResetOptionsSchema, input, 'ContainerResetManager options');
}
