/**
 * Chromium switches the pool needs on CI machines: no background traffic or self-updates that would make
 * runs slower and less repeatable, no first-run UI, and no GPU (headless VMs have none; the software
 * fallback is what Chromium would pick after failing anyway, minus the failure).
 */
export const POOL_CHROMIUM_ARGS: readonly string[] = [
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-gpu',
];

/** @defaultValue '127.0.0.1': the interface a pool MCP server binds (the guard in front is what clients reach). */
export const DEFAULT_MCP_SERVER_HOST = '127.0.0.1';

/**
 * @defaultValue false: Chromium's own sandbox is off. Chromium refuses it when run as root, and as another user
 * it needs unprivileged user namespaces, which many CI hosts disable (Playwright's own Linux default for
 * Chromium is off too).
 */
export const DEFAULT_CHROMIUM_SANDBOX = false;

/**
 * Environment every pool MCP server runs with. The server's own ping (every 3 s, session closed when the
 * client does not answer within 5 s) is off: a test whose worker stalls (breakpoint, starved CPU) would lose
 * its session and browser context, although the pool still holds its lease. Whether a holder is alive is the
 * pool's call, made by the lease heartbeat; the session ends when the lease does.
 */
export const MCP_SERVER_LIFECYCLE_ENV: Readonly<Record<string, string>> = { PLAYWRIGHT_MCP_PING_TIMEOUT_MS: '0' };

/** How the pool runs every MCP server; the pool option `mcpServer`. */
export interface McpServerLifecycleOptions {
  /** Expose the tools pages register through WebMCP (`webmcp_*`, untrusted page input). @defaultValue false */
  webmcp?: boolean;
}

/**
 * CLI flags every pool MCP server gets, before any `serverArgs` (which may override them). `--idle-timeout 0`:
 * a container idle for hours keeps its browser (the server's default closes it after an hour without a tool
 * call); the pool decides when a browser ends (cleanup, reset). `--no-webmcp` unless asked for. `--caps devtools`:
 * `browser_start_tracing`/`browser_stop_tracing`, which the fixtures use for `use: { trace }` (the trace files
 * land in the output dir that cleanup stage 2 clears).
 */
export function mcpServerLifecycleArgs(options: McpServerLifecycleOptions = {}): string[] {
  return ['--idle-timeout', '0', '--caps', 'devtools', ...(options.webmcp ? [] : ['--no-webmcp'])];
}

export interface McpServerCommandInput extends McpServerLifecycleOptions {
  /** `cli.js` of the installed @playwright/mcp. */
  cliPath: string;
  port: number;
  /** Interface the server binds. @defaultValue {@link DEFAULT_MCP_SERVER_HOST} */
  host?: string;
  chromiumPath: string;
  /** Where the JSON config built by {@link buildMcpServerConfig} is written. */
  configPath: string;
  /** Chromium's own sandbox. @defaultValue {@link DEFAULT_CHROMIUM_SANDBOX} (why: see there) */
  chromiumSandbox?: boolean;
  /** Extra Chromium switches after {@link POOL_CHROMIUM_ARGS}. */
  chromiumArgs?: readonly string[];
  /**
   * Host headers the server accepts (`--allowed-hosts`). Needed when a guard in front of the server forwards
   * requests addressed to another port than the one the server listens on.
   * @defaultValue the server's own `localhost:<port>`
   */
  allowedHosts?: readonly string[];
  /** Extra `@playwright/mcp` CLI flags, appended last (after {@link mcpServerLifecycleArgs}, so they win). */
  serverArgs?: readonly string[];
}

/**
 * The JSON config file given with `--config`. Chromium switches can only be passed this way (the CLI has no
 * flag for launch args); everything the CLI can say is said on the command line too, where it wins, so `ps`
 * shows how a server was started.
 */
export function buildMcpServerConfig(input: McpServerCommandInput): Record<string, unknown> {
  return {
    browser: {
      browserName: 'chromium',
      isolated: true,
      launchOptions: {
        headless: true,
        executablePath: input.chromiumPath,
        chromiumSandbox: input.chromiumSandbox ?? DEFAULT_CHROMIUM_SANDBOX,
        args: [...POOL_CHROMIUM_ARGS, ...(input.chromiumArgs ?? [])],
      },
    },
    server: { port: input.port, host: input.host ?? DEFAULT_MCP_SERVER_HOST },
  };
}

/** Arguments for `node` (the current Node binary) that start one MCP server. */
export function buildMcpServerArgv(input: McpServerCommandInput): string[] {
  return [
    input.cliPath,
    '--config',
    input.configPath,
    '--port',
    String(input.port),
    '--host',
    input.host ?? DEFAULT_MCP_SERVER_HOST,
    '--headless',
    '--isolated',
    '--browser',
    'chromium',
    '--executable-path',
    input.chromiumPath,
    ...(input.allowedHosts ? ['--allowed-hosts', input.allowedHosts.join(',')] : []),
    ...mcpServerLifecycleArgs(input),
    ...(input.serverArgs ?? []),
  ];
}
