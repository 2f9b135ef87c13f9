// Docker HEALTHCHECK: healthy when the guard on MCP_PORT answers its health path with 200, which it does only
// when the MCP server behind it answers HTTP too (mcp-guard.cjs, HEALTH_PATH): so a dead guard or a dead server
// both count. It is asked with the Host header clients use: a 403 means the Host rule rejects clients (MCP_PORT
// differs from the published port), a 502 that the server does not answer: a broken container either way. The
// health path needs no credential, and this container holds none that could sign one.
'use strict';
const http = require('node:http');
const { HEALTH_PATH } = require('./mcp-guard.cjs');

const port = Number(process.env.MCP_PORT);
const request = http.request(
  {
    host: '127.0.0.1',
    port,
    path: HEALTH_PATH,
    method: 'GET',
    headers: { host: `localhost:${port}` },
    timeout: 2000,
  },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', (error) => {
  console.error(`MCP server on port ${port} did not answer: ${error.message}`);
  process.exit(1);
});
request.end();
