import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createClosableFetch } from './closable-fetch.js';

/**
 * A Node HTTP server in a process of its own with a 2.5 s keep-alive timeout (announced as `Keep-Alive:
 * timeout=2`, so the client keeps the socket): while this process's event loop is blocked it closes the idle
 * socket and this process cannot notice, which is what a stalled test worker meets (Node's default keep-alive
 * timeout is 5 s).
 */
const SERVER = `
const server = require('node:http').createServer((req, res) => { let n = 0; req.on('data', (c) => (n += c.length)); req.on('end', () => res.end('got ' + req.method + ' ' + n)); });
server.keepAliveTimeout = 2500;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
});

async function startServer(): Promise<string> {
  child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return `http://127.0.0.1:${chunk.toString().trim()}/`;
}

describe('createClosableFetch', () => {
  it('sends a request again when the kept-alive socket was closed by the server while this process stalled', async () => {
    const url = await startServer();
    const { fetch, close } = createClosableFetch();
    try {
      expect(await (await fetch(url, { method: 'POST', body: 'abc' })).text()).toBe('got POST 3');
      // Past the keep-alive timeout without an event loop: the server closes the socket, this side cannot see
      // it, and reuses it first thing after the stall (before its own timers run).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4_000);
      expect(await (await fetch(url, { method: 'POST', body: 'abcd' })).text()).toBe('got POST 4');
    } finally {
      close();
    }
  });
});
