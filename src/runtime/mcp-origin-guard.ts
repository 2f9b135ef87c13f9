import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { mcpRequestRefusal } from './mcp-origin-rule.js';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the message: each side of the proxy
 * frames and keeps alive its own connection, so they are not copied across.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

export interface McpOriginGuard {
  /** The port clients use (the pool member's port). */
  readonly port: number;
  /** Stops listening and ends every open connection (SSE streams included). Idempotent. */
  close(): Promise<void>;
}

/**
 * A streaming reverse proxy on 127.0.0.1:`port` in front of an MCP server on 127.0.0.1:`upstreamPort`: it
 * refuses what {@link mcpRequestRefusal} refuses (403, text/plain naming the rule) and forwards the rest with
 * its parsed headers unchanged (so the server's own Host check sees exactly what the rule saw). Bodies are
 * piped both ways, never buffered: Streamable HTTP answers with long-lived SSE streams.
 */
export async function startMcpOriginGuard(options: { port: number; upstreamPort: number }): Promise<McpOriginGuard> {
  const { port, upstreamPort } = options;
  // Keep-alive to the server so a tool call costs no extra TCP handshake behind the guard.
  const agent = new Agent({ keepAlive: true });
  const server = createServer((req, res) => {
    const refusal = mcpRequestRefusal(req.headers.host, req.headers.origin, port);
    if (refusal) {
      req.resume();
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`${refusal}\n`);
      return;
    }
    const upstream = httpRequest(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
      (upstreamRes) => {
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, endToEnd(upstreamRes.headers));
        // SSE: the headers must reach the client now, not with the first event.
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (error) => {
      if (res.headersSent) {
        res.destroy();
      } else {
        res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end(`MCP server behind the guard did not answer: ${error.message}\n`);
      }
    });
    // A client that goes away (an SSE stream closed, a cancelled call) must close the server's side too, so the
    // server ends that stream instead of writing into a dead proxy connection.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, a server error (e.g. accept failing under fd exhaustion) must not crash the test process:
  // the affected client sees its connection fail, which the health checks report.
  server.on('error', () => undefined);
  // Like the server child (unref'd), an idle guard must not keep a pool left running by mistake alive.
  server.unref();
  let closed: Promise<void> | undefined;
  return {
    port,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      })),
  };
}
