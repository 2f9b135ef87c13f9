// Docker HEALTHCHECK: healthy when the MCP server answers HTTP on MCP_PORT, through the Origin/Host guard
// (mcp-guard.cjs), with the Host header clients use: so a dead guard or a dead server both count. A bare TCP
// probe would pass while the server is wedged; a 403 means the host check rejects clients (MCP_PORT differs
// from the published port), and a 502 that the guard cannot reach the server: a broken container either way.
// It sends the pool's credential for this member (signed with MCP_GUARD_KEY, as the pool signs it), so the
// request reaches the server: a 401 means the key is wrong or missing, also a broken container.
'use strict';
const http = require('node:http');
const { signCredential } = require('./mcp-guard.cjs');

const port = Number(process.env.MCP_PORT);
const request = http.request(
  {
    host: '127.0.0.1',
    port,
    path: '/mcp',
    method: 'GET',
    headers: {
      host: `localhost:${port}`,
      authorization: `Bearer ${signCredential(process.env.MCP_GUARD_KEY ?? '', { m: process.env.MCP_GUARD_MEMBER ?? '', r: 'pool' })}`,
    },
    timeout: 2000,
  },
  (response) => {
    response.resume();
    // GET /mcp without a session is answered 400 by a live server: the MCP handler ran, no session was created.
    const status = response.statusCode ?? 0;
    process.exit(status !== 401 && status !== 403 && status < 500 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', (error) => {
  console.error(`MCP server on port ${port} did not answer: ${error.message}`);
  process.exit(1);
});
request.end();
