/**
 * Which requests may reach an MCP server: the DNS-rebinding / cross-origin rule of issue 5 (scenario 10).
 *
 * @playwright/mcp checks the Host header but never Origin, so a page on a foreign origin could still drive the
 * server with a plain cross-origin fetch to localhost. The guard in front of every server (in-process for
 * the process runtime: mcp-origin-guard.ts; in the image: docker/image/mcp-guard.cjs, which re-implements
 * this function because the image runs plain Node without this package) applies this rule to every request.
 */

/**
 * Why a request must be refused (403), or undefined when it may pass.
 *
 * - Host must be `localhost:<port>` or `127.0.0.1:<port>` (compared case-insensitively, as hostnames are and
 *   as @playwright/mcp's own check does): a rebound name (`attacker.example`, with or without a port) fails.
 * - Origin, when present, must be `http://localhost:<port>` or `http://127.0.0.1:<port>`. Browsers send it on
 *   every cross-origin request (and on same-origin POST/DELETE); Node clients such as the MCP SDK send none,
 *   so a missing Origin passes. `null` (sandboxed frames, file:) is a foreign origin.
 *
 * @param port the port the clients connect to (the published / guard port, not a private upstream port)
 */
export function mcpRequestRefusal(host: string | undefined, origin: string | undefined, port: number): string | undefined {
  const hosts = [`localhost:${port}`, `127.0.0.1:${port}`];
  if (host === undefined || !hosts.includes(host.toLowerCase())) {
    return `Host ${JSON.stringify(host ?? '')} refused: this MCP server only answers Host ${hosts.join(' or ')} (DNS rebinding guard)`;
  }
  if (origin !== undefined && !hosts.some((h) => `http://${h}` === origin.toLowerCase())) {
    return `Origin ${JSON.stringify(origin)} refused: this MCP server only answers Origin ${hosts.map((h) => `http://${h}`).join(' or ')} or none (cross-origin / DNS rebinding guard)`;
  }
  return undefined;
}
