import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { credentialHeaders } from '../runtime/member-credentials.js';
import { createClosableFetch } from './closable-fetch.js';

export interface McpHandshakeResult {
  toolCount: number;
  serverName?: string;
  serverVersion?: string;
  /** Set when the session could not be terminated (the check itself passed). */
  terminateError?: string;
}

/** Thrown when the server answered but wrongly: retrying within the budget cannot help. */
export class McpHandshakeRefused extends Error {
  override readonly name = 'McpHandshakeRefused';
}

/**
 * One MCP conversation over Streamable HTTP: initialize, ping, tools/list (must include `requiredTools`),
 * then DELETE the session so the server frees it at once. Every request is bounded by `timeoutMs`. With a
 * `credential` (the pool's, for a member behind the guard) every request carries it.
 */
export async function mcpHandshake(url: URL, requiredTools: readonly string[], timeoutMs: number, credential?: string): Promise<McpHandshakeResult> {
  const client = new Client({ name: '@cinnamon-qa/containers health-check', version: '1' });
  // Sockets closed when the check ends: idle keep-alive connections would otherwise look like an open MCP
  // session to cleanup's validation (which waits for them to drain) for seconds after every check.
  const http = createClosableFetch();
  const transport = new StreamableHTTPClientTransport(url, { fetch: http.fetch, ...(credential ? { requestInit: { headers: credentialHeaders(credential) } } : {}) });
  const timeout = Math.max(1, timeoutMs);
  try {
    await client.connect(transport, { timeout });
    await client.ping({ timeout });
    const { tools } = await client.listTools(undefined, { timeout });
    const names = new Set(tools.map((t) => t.name));
    const missing = requiredTools.filter((t) => !names.has(t));
    if (missing.length) {
      throw new McpHandshakeRefused(`tools/list has ${tools.length} tools but lacks ${missing.join(', ')}`);
    }
    const server = client.getServerVersion();
    let terminateError: string | undefined;
    try {
      await transport.terminateSession();
    } catch (error) {
      terminateError = describeMcpError(error);
    }
    return { toolCount: tools.length, serverName: server?.name, serverVersion: server?.version, terminateError };
  } catch (error) {
    // 4xx: the server is up and said no (403: the Host rule; 401: the guard refused the credential): the same
    // request would be refused again.
    if (error instanceof StreamableHTTPError && typeof error.code === 'number' && error.code >= 400 && error.code < 500) {
      throw new McpHandshakeRefused(`HTTP ${error.code}: ${error.message}`);
    }
    throw error;
  } finally {
    // Also aborts a request still in flight when a timeout gave up on it.
    await client.close().catch(() => undefined);
    http.close();
  }
}

/** An error as one line, with the low-level cause fetch hides ("fetch failed (ECONNRESET)"). */
export function describeMcpError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const causeText =
    cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : cause === undefined ? '' : String(cause);
  return causeText && !error.message.includes(causeText) ? `${error.message} (${causeText})` : error.message;
}
