import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

/**
 * The Origin/Host guard in front of every pool MCP server. Its one implementation is docker/image/mcp-guard.cjs:
 * the image runs that file with plain node (nothing else of this package is in the image), and the process
 * runtime loads the same file in-process through this module, which only gives it types. In-process rather than
 * a `node mcp-guard.cjs` child per member: no extra process for cleanup to tell from a holder's, none to reap
 * after a crash, no readiness handshake, and the guard closes with the server as before.
 */
export interface McpGuard {
  /** The port clients use (the pool member's port). */
  readonly port: number;
  /** Stops listening and ends every open connection (SSE streams included). Idempotent. */
  close(): Promise<void>;
  /** Lets the process exit while the guard listens (a pool left running by mistake must not keep it alive). */
  unref(): void;
}

export interface McpGuardOptions {
  /** Port the guard listens on, the one clients connect to. */
  port: number;
  /** Port of the MCP server on 127.0.0.1. */
  upstreamPort: number;
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string;
}

interface McpGuardModule {
  mcpRequestRefusal(host: string | undefined, origin: string | undefined, port: number): string | undefined;
  startMcpGuard(options: McpGuardOptions): Promise<McpGuard>;
}

/** Where the guard ships: `docker/` is in package.json "files", next to `dist/`. */
export function mcpGuardPath(root: string = packageRoot()): string {
  return join(root, 'docker', 'image', 'mcp-guard.cjs');
}

let loaded: McpGuardModule | undefined;

function guardModule(): McpGuardModule {
  if (!loaded) {
    const module = createRequire(import.meta.url)(mcpGuardPath()) as Partial<McpGuardModule>;
    if (typeof module.startMcpGuard !== 'function' || typeof module.mcpRequestRefusal !== 'function') {
      throw new Error(`${mcpGuardPath()} does not export startMcpGuard and mcpRequestRefusal; reinstall @cinnamon-qa/containers`);
    }
    loaded = module as McpGuardModule;
  }
  return loaded;
}

/**
 * Starts the guard on `host`:`port` in front of the server on 127.0.0.1:`upstreamPort`: it refuses what
 * {@link mcpRequestRefusal} refuses (403, text/plain naming the rule) and streams the rest through unchanged.
 */
export function startMcpGuard(options: McpGuardOptions): Promise<McpGuard> {
  return guardModule().startMcpGuard(options);
}

/**
 * Why a request must be refused, or undefined when it may pass: Host must be `localhost:<port>` or
 * `127.0.0.1:<port>`; Origin, when present, the same with `http://`. The rules are documented in the guard.
 */
export function mcpRequestRefusal(host: string | undefined, origin: string | undefined, port: number): string | undefined {
  return guardModule().mcpRequestRefusal(host, origin, port);
}
