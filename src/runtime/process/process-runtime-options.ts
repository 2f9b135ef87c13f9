import { z } from 'zod';
import { SystemClock, type Clock } from '../../clock/clock.js';
import { parseOptions } from '../../config/parse-options.js';
import { DEFAULT_MCP_WEBMCP } from '../../config/schemas.js';
import { DEFAULT_EXEC_TIMEOUT_MS } from '../container-runtime.js';
import { DEFAULT_CHROMIUM_SANDBOX } from '../mcp-server-command.js';
import type { LocateChromiumOptions } from './chromium-locator.js';
import { DEFAULT_KILL_GRACE_MS } from './process-group.js';
import { DEFAULT_SANDBOX_ROOT } from './sandbox-layout.js';

const switches = z.array(z.string()).readonly();

/** Members listen on loopback only unless a host agent says otherwise. */
export const DEFAULT_BIND_ADDRESS = '127.0.0.1';

/** The process runtime's plain options; what it is handed (clock, environment, Chromium search) stays outside. */
export const processRuntimeOptionsSchema = z
  .object({
    /** Folder holding every sandbox: `<rootDir>/<poolId>/<runId>/<containerId>/`. @defaultValue {@link DEFAULT_SANDBOX_ROOT} */
    rootDir: z.string().min(1).default(DEFAULT_SANDBOX_ROOT),
    /** Chromium for the servers. @defaultValue found by {@link locateChromium} (Playwright's, else PATH) */
    chromiumPath: z.string().min(1).optional(),
    /** Chromium's own sandbox; see {@link buildMcpServerConfig}. @defaultValue {@link DEFAULT_CHROMIUM_SANDBOX} */
    chromiumSandbox: z.boolean().default(DEFAULT_CHROMIUM_SANDBOX),
    /** Extra Chromium switches. @defaultValue none */
    chromiumArgs: switches.optional(),
    /** Extra `@playwright/mcp` CLI flags, after the pool's own (see mcpServerLifecycleArgs). @defaultValue none */
    serverArgs: switches.optional(),
    /** Expose tools pages register through WebMCP (`webmcp_*`); the pool option `mcpServer.webmcp`. @defaultValue {@link DEFAULT_MCP_WEBMCP} */
    webmcp: z.boolean().default(DEFAULT_MCP_WEBMCP),
    /** Time between SIGTERM and SIGKILL on stop, ms. @defaultValue {@link DEFAULT_KILL_GRACE_MS} */
    killGraceMs: z.number().int().nonnegative().default(DEFAULT_KILL_GRACE_MS),
    /** exec() budget when the call gives none, ms. @defaultValue {@link DEFAULT_EXEC_TIMEOUT_MS} */
    execTimeoutMs: z.number().int().positive().default(DEFAULT_EXEC_TIMEOUT_MS),
    /**
     * Interface the members' guards listen on. A host agent of a shared pool (issue 11) serves other machines:
     * '0.0.0.0' or its advertised address (the pool's own health checks connect to localhost, so an address
     * other than 0.0.0.0 or 127.0.0.1 needs them pointed there too). The servers behind stay on 127.0.0.1.
     * @defaultValue {@link DEFAULT_BIND_ADDRESS}
     */
    bindAddress: z.string().min(1).default(DEFAULT_BIND_ADDRESS),
    /**
     * The address other machines reach the members at (an IP or DNS name, no port): each guard also admits Host
     * `<advertisedHost>:<port>`. @defaultValue none (only localhost:<port> and 127.0.0.1:<port>)
     */
    advertisedHost: z.string().regex(/^[^\s/:*,]+$/, 'an IP address or DNS name without a port').optional(),
    /**
     * Warm members (issue 13, pool option `reuse`): each guard runs as a process of its own, so members can
     * outlive the run (detach()) and a later run can take them over (adopt()); after this many ms without a
     * connection a guard ends its server and itself. @defaultValue unset (in-process guards, members end with the run)
     */
    warmIdleMs: z.number().int().positive().optional(),
  })
  .strict();

export interface ProcessRuntimeOptions extends z.input<typeof processRuntimeOptionsSchema> {
  /** How the Chromium is searched for when `chromiumPath` is unset (tests). */
  chromiumLocator?: Omit<LocateChromiumOptions, 'executablePath'>;
  /** Environment the servers inherit (sandbox variables are set over it). @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Stamps event times and paces waits. @defaultValue SystemClock */
  clock?: Clock;
}

export type ProcessRuntimeConfig = z.output<typeof processRuntimeOptionsSchema> & {
  chromiumLocator?: ProcessRuntimeOptions['chromiumLocator'];
  env: NodeJS.ProcessEnv;
  clock: Clock;
};

/**
 * Validates and defaults the plain options (one INVALID_OPTIONS listing every bad field, unknown keys included);
 * the handed-in parts (clock, environment, Chromium search) pass through, as DockerRuntime's do.
 */
export function parseProcessRuntimeOptions(options: ProcessRuntimeOptions): ProcessRuntimeConfig {
  const { chromiumLocator, env, clock, ...plain } = options;
  return {
    ...parseOptions(processRuntimeOptionsSchema, plain, 'ProcessRuntime options'),
    chromiumLocator,
    env: env ?? process.env,
    clock: clock ?? new SystemClock(),
  };
}
