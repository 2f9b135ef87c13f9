import { z } from 'zod';
import { SystemClock, type Clock } from '../clock/clock.js';
import { DEFAULT_CLEANUP_STAGE_TIMEOUT_MS } from '../config/schemas.js';
import { parseOptions } from '../config/parse-options.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { injected } from '../config/injected.js';

/** @defaultValue 500 ms between SIGTERM and SIGKILL; Chromium exits on SIGTERM in 50-150 ms. */
export const DEFAULT_KILL_GRACE_MS = 500;
/**
 * @defaultValue 5500 ms: how long validateCleanup lets connections to the MCP port close. A client that has
 * gone can leave connections that look like open sessions: the global fetch keeps idle keep-alive sockets
 * for about 4 s, and an aborted SSE stream can stay open as long (seen with MCP SDK 1.32 and
 * @playwright/mcp 0.0.83); Node's HTTP server ends idle ones after 5 s. A client that destroys its sockets
 * when it ends its session (fixtures/mcp-session.ts does) leaves none, and cleanup does not wait at all.
 */
export const DEFAULT_SESSION_DRAIN_MS = 5_500;
/** @defaultValue none: resetEnvironment empties MCP_WORKDIR completely (both runtimes start it empty). */
export const DEFAULT_WORKDIR_KEEP: readonly string[] = [];


/** A duration the scripts get as an argument: whole milliseconds, 0 allowed. */
export const nonNegativeMs = z.number().int('must be a whole number of ms').min(0, 'must be 0 ms or more');

/** A name directly inside MCP_WORKDIR: the reset script compares it with the folder's entries. */
const plainFileName = z
  .string()
  .refine((name) => name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\n'), {
    message: 'must be a plain file name (not empty, ".", ".." and without "/" or a line break)',
  });

export const cleanupServiceOptionsSchema = z
  .object({
    /** Runs the stage scripts (its `exec`). */
    runtime: injected<ContainerRuntime>('ContainerRuntime'),
    /** Times stages. @defaultValue SystemClock */
    clock: injected<Clock>('Clock').default(() => new SystemClock()),
    /** Budget of one stage, ms. @defaultValue {@link DEFAULT_CLEANUP_STAGE_TIMEOUT_MS} (`cleanup.stageTimeoutMs`) */
    stageTimeoutMs: nonNegativeMs.default(DEFAULT_CLEANUP_STAGE_TIMEOUT_MS),
    /** Time browser processes get between SIGTERM and SIGKILL, ms. @defaultValue {@link DEFAULT_KILL_GRACE_MS} */
    killGraceMs: nonNegativeMs.default(DEFAULT_KILL_GRACE_MS),
    /** How long open connections to the MCP port may take to close, ms. @defaultValue {@link DEFAULT_SESSION_DRAIN_MS} */
    sessionDrainMs: nonNegativeMs.default(DEFAULT_SESSION_DRAIN_MS),
    /**
     * Counts the open MCP sessions of a container. When given it replaces the default check (ESTABLISHED TCP
     * connections to MCP_PORT, read from /proc/net/tcp{,6} inside the exec) and is polled for `sessionDrainMs`.
     */
    mcpSessions: z
      .custom<(containerId: string) => Promise<number>>((value) => typeof value === 'function', { message: 'must be a function' })
      .optional(),
    /** Names in MCP_WORKDIR that resetEnvironment keeps. @defaultValue {@link DEFAULT_WORKDIR_KEEP} (none) */
    workdirKeep: z.array(plainFileName).readonly().default(DEFAULT_WORKDIR_KEEP),
  })
  .strict();
export type CleanupServiceOptions = z.input<typeof cleanupServiceOptionsSchema>;
export type CleanupServiceConfig = z.output<typeof cleanupServiceOptionsSchema>;

/**
 * Validates and defaults CleanupService's options: one INVALID_OPTIONS listing every bad field, at
 * construction rather than in the middle of a cleanup.
 */
export function parseCleanupServiceOptions(input: CleanupServiceOptions): CleanupServiceConfig {
  return parseOptions(cleanupServiceOptionsSchema, input, 'CleanupService options');
}
