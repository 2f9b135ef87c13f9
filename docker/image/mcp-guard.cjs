// Origin/Host guard in front of the MCP server (issue 5, scenario 10: DNS rebinding). @playwright/mcp checks
// Host but never Origin, so a page on a foreign origin could drive it with a cross-origin fetch. start-mcp.sh
// runs this on 0.0.0.0:$MCP_PORT (the published port) and the server on 127.0.0.1:$MCP_SERVER_PORT; every
// request passes through here and is either refused (403, text/plain naming the rule) or forwarded unchanged,
// streamed both ways (Streamable HTTP keeps SSE responses open for the whole session).
//
// refusal() re-implements mcpRequestRefusal() of src/runtime/mcp-origin-rule.ts, whose unit tests define the
// rule: the image runs plain Node with no access to this package's compiled code. Change both together.
'use strict';
const http = require('node:http');

const port = Number(process.env.MCP_PORT);
const upstreamPort = Number(process.env.MCP_SERVER_PORT);
if (!Number.isInteger(port) || !Number.isInteger(upstreamPort) || port === upstreamPort) {
  console.error(`mcp-guard: MCP_PORT (${process.env.MCP_PORT}) and MCP_SERVER_PORT (${process.env.MCP_SERVER_PORT}) must be two different ports`);
  process.exit(2);
}

const hosts = [`localhost:${port}`, `127.0.0.1:${port}`];
function refusal(host, origin) {
  if (host === undefined || !hosts.includes(host.toLowerCase())) {
    return `Host ${JSON.stringify(host ?? '')} refused: this MCP server only answers Host ${hosts.join(' or ')} (DNS rebinding guard)`;
  }
  if (origin !== undefined && !hosts.some((h) => `http://${h}` === origin.toLowerCase())) {
    return `Origin ${JSON.stringify(origin)} refused: this MCP server only answers Origin ${hosts.map((h) => `http://${h}`).join(' or ')} or none (cross-origin / DNS rebinding guard)`;
  }
  return undefined;
}

// Hop-by-hop headers describe one connection; each side of the guard frames and keeps alive its own.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
function endToEnd(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

const agent = new http.Agent({ keepAlive: true });
const server = http.createServer((req, res) => {
  const why = refusal(req.headers.host, req.headers.origin);
  if (why) {
    req.resume();
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`${why}\n`);
    return;
  }
  const upstream = http.request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: endToEnd(req.headers), agent },
    (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, endToEnd(upstreamRes.headers));
      res.flushHeaders();
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
    },
  );
  upstream.on('error', (error) => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end(`MCP server behind the guard did not answer: ${error.message}\n`);
  });
  // A client that leaves (SSE stream closed, call cancelled) closes the server's side too.
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
});
server.on('error', (error) => {
  console.error(`mcp-guard: cannot listen on 0.0.0.0:${port}: ${error.message}`);
  process.exit(1);
});
server.listen(port, '0.0.0.0');
