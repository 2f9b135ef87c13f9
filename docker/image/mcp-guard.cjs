// The Origin/Host guard in front of every pool MCP server, in both runtimes (issue 5, scenario 10: DNS
// rebinding). @playwright/mcp checks Host but never Origin, so a page on a foreign origin could drive the server
// with a plain cross-origin fetch to localhost. Every request passes through here and is either refused (403,
// text/plain naming the rule) or forwarded unchanged, streamed both ways (Streamable HTTP keeps SSE responses
// open for the whole session).
//
// One file, two ways in, so there is one guard to change (issue 10's lease check goes here too):
//   - the image: start-mcp.sh runs `node /opt/mcp/mcp-guard.cjs` on 0.0.0.0:$MCP_PORT (the published port) in
//     front of the server on 127.0.0.1:$MCP_SERVER_PORT (main() below);
//   - the process runtime loads this module in-process (src/runtime/mcp-guard.ts, typed there) and calls
//     startMcpGuard() on 127.0.0.1:<member port>.
// Plain Node, CommonJS, no dependencies: the image has nothing but node and this file. Tested by
// src/runtime/mcp-guard.test.ts.
'use strict';
const http = require('node:http');

/**
 * Why a request must be refused (403), or undefined when it may pass. `port` is the port clients connect to
 * (the published / guard port, not the server's private one).
 * - Host must be `localhost:<port>` or `127.0.0.1:<port>` (case-insensitive, as hostnames are and as
 *   @playwright/mcp's own check is): a rebound name (`attacker.example`, with or without a port) fails.
 * - Origin, when present, must be `http://localhost:<port>` or `http://127.0.0.1:<port>`. Browsers send it on
 *   every cross-origin request (and on same-origin POST/DELETE); Node clients such as the MCP SDK send none, so
 *   a missing Origin passes. `null` (sandboxed frames, file:) is a foreign origin.
 */
function mcpRequestRefusal(host, origin, port) {
  const hosts = [`localhost:${port}`, `127.0.0.1:${port}`];
  if (host === undefined || !hosts.includes(host.toLowerCase())) {
    return `Host ${JSON.stringify(host ?? '')} refused: this MCP server only answers Host ${hosts.join(' or ')} (DNS rebinding guard)`;
  }
  if (origin !== undefined && !hosts.some((h) => `http://${h}` === origin.toLowerCase())) {
    return `Origin ${JSON.stringify(origin)} refused: this MCP server only answers Origin ${hosts.map((h) => `http://${h}`).join(' or ')} or none (cross-origin / DNS rebinding guard)`;
  }
  return undefined;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the message: each side of the guard
// frames and keeps alive its own connection, so they are not copied across.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
function endToEnd(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/**
 * Starts the guard on `host`:`port` in front of the server on 127.0.0.1:`upstreamPort`; resolves once it
 * listens, rejects when it cannot. Keep-alive towards clients is Node's default (idle sockets close after 5 s):
 * cleanup validation relies on a finished holder's idle sockets going away.
 * @returns `{ port, close(), unref() }`; close() stops listening and ends every open connection (SSE streams
 *   included) and is idempotent; unref() lets the process exit while the guard still listens.
 */
async function startMcpGuard({ port, upstreamPort, host = '127.0.0.1' }) {
  // Keep-alive to the server so a tool call costs no extra TCP handshake behind the guard.
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const why = mcpRequestRefusal(req.headers.host, req.headers.origin, port);
    if (why) {
      req.resume();
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`${why}\n`);
      return;
    }
    const upstream = http.request(
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
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end(`MCP server behind the guard did not answer: ${error.message}\n`);
    });
    // A client that goes away (an SSE stream closed, a cancelled call) closes the server's side too, so the
    // server ends that stream instead of writing into a dead proxy connection.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, a server error (accept failing under fd exhaustion) must not end the guard, nor the test
  // process it may run in: the affected client sees its connection fail, which the health checks report.
  server.on('error', () => undefined);
  let closed;
  return {
    port,
    close: () =>
      (closed ??= new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      })),
    unref: () => void server.unref(),
  };
}

/** The image's entry: ports from the environment, every interface (docker-proxy forwards from the host). */
function main() {
  const port = Number(process.env.MCP_PORT);
  const upstreamPort = Number(process.env.MCP_SERVER_PORT);
  if (!Number.isInteger(port) || !Number.isInteger(upstreamPort) || port === upstreamPort) {
    console.error(`mcp-guard: MCP_PORT (${process.env.MCP_PORT}) and MCP_SERVER_PORT (${process.env.MCP_SERVER_PORT}) must be two different ports`);
    process.exit(2);
  }
  startMcpGuard({ port, upstreamPort, host: '0.0.0.0' }).catch((error) => {
    console.error(`mcp-guard: cannot listen on 0.0.0.0:${port}: ${error.message}`);
    process.exit(1);
  });
}

module.exports = { mcpRequestRefusal, startMcpGuard };
if (require.main === module) main();
