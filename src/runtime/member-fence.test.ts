import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import { startMcpGuard, type McpGuard } from './mcp-guard.js';
import { credentialHeaders, MemberCredentials } from './member-credentials.js';
import { fenceMember } from './member-fence.js';
import { freePort } from '../../test/support/ports.js';

const MEMBER = 'container-1';
const servers: Server[] = [];
let guard: McpGuard | undefined;

afterEach(async () => {
  await guard?.close();
  guard = undefined;
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(server: Server, port = 0): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * A real guard in front of a fake MCP server that hands out `session-<n>` on POST and answers DELETE with
 * `deleteStatus`. Returns what the server saw and a way to send a request with a lease's credential.
 */
async function guardedMember(deleteStatus = 200) {
  const deleted: string[] = [];
  let sessions = 0;
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'DELETE') {
        deleted.push(String(req.headers['mcp-session-id']));
        res.writeHead(deleteStatus).end();
      } else {
        res.writeHead(200, { 'mcp-session-id': `session-${++sessions}` }).end('{}');
      }
    });
  });
  const upstreamPort = await listen(upstream);
  const port = await freePort();
  const credentials = new MemberCredentials();
  guard = await startMcpGuard({ port, upstreamPort, key: credentials.keyOf(MEMBER), member: MEMBER });
  const asHolder = (token: number) =>
    new Promise<number>((resolve, reject) => {
      const headers = { host: `localhost:${port}`, 'content-length': '2', ...credentialHeaders(credentials.forLease(MEMBER, `lease-${token}`, token)) };
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', agent: false, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('{}');
    });
  return { port, credentials, deleted, asHolder, target: { containerId: MEMBER, port, credential: credentials.forPool(MEMBER) } };
}

/** The PoolError a failed fence rejects with. */
async function fenceError(promise: Promise<unknown>): Promise<PoolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PoolError);
  const poolError = error as PoolError;
  expect(poolError.code).toBe('RUNTIME_ERROR');
  return poolError;
}

describe('fenceMember (the pool raising a member\'s floor at its guard)', () => {
  it('returns the guard\'s answer: the member\'s floor and what it cut', async () => {
    const m = await guardedMember();
    expect(await fenceMember(m.target, 2)).toEqual({ member: MEMBER, floor: 2, cut: { connections: 0, sessions: 0, sessionsNotEnded: 0 } });
    expect(await m.asHolder(2)).toBe(200);
    expect(await fenceMember(m.target, 3)).toMatchObject({ member: MEMBER, floor: 3, cut: { sessions: 1, sessionsNotEnded: 0 } });
    expect(m.deleted).toEqual(['session-1']);
    expect(await m.asHolder(2)).toBe(401);
    expect(await m.asHolder(3)).toBe(200);
  });

  it('counts the sessions the server would not end', async () => {
    const m = await guardedMember(404);
    await fenceMember(m.target, 1);
    expect(await m.asHolder(1)).toBe(200);
    expect(await fenceMember(m.target, 2)).toMatchObject({ floor: 2, cut: { sessions: 1, sessionsNotEnded: 1 } });
    expect(m.deleted).toEqual(['session-1']);
  });

  it('fails with RUNTIME_ERROR naming the container when its guard has stopped', async () => {
    const m = await guardedMember();
    await guard!.close();
    const error = await fenceError(fenceMember(m.target, 2));
    expect(error.message).toMatch(new RegExp(`^Fence of container ${MEMBER} \\(port ${m.port}\\) failed: .*ECONNREFUSED.*Fix: `));
    expect(error.data).toMatchObject({ containerId: MEMBER, operation: 'fence', floor: 2 });
  });

  it('fails with RUNTIME_ERROR when the guard refuses the credential (another run\'s, or a lease\'s)', async () => {
    const m = await guardedMember();
    const otherRun = await fenceError(fenceMember({ ...m.target, credential: new MemberCredentials().forPool(MEMBER) }, 2));
    expect(otherRun.message).toMatch(new RegExp(`^Fence of container ${MEMBER} .*failed: the guard answered HTTP 401: credential refused: its signature does not match`));
    await fenceMember(m.target, 2);
    const byLease = await fenceError(fenceMember({ ...m.target, credential: m.credentials.forLease(MEMBER, 'lease-2', 2) }, 5));
    expect(byLease.message).toMatch(/^Fence of container container-1 .*failed: the guard answered HTTP 403: fence: only the pool may move the floor/);
    // Neither refused call moved the floor.
    expect(await m.asHolder(2)).toBe(200);
  });

  it('fails with RUNTIME_ERROR when what answers on the port is not a guard', async () => {
    const notJson = createServer((req, res) => (req.resume(), res.end('hello')));
    const port = await listen(notJson);
    const error = await fenceError(fenceMember({ containerId: 'container-9', port, credential: 'x' }, 2));
    expect(error.message).toMatch(/^Fence of container container-9 \(port \d+\) failed: the guard's answer is not JSON: hello/);
    // A server that never answers: the fence gives up after its budget instead of hanging the pool.
    const silent = createServer(() => undefined);
    const silentPort = await listen(silent);
    const timeout = await fenceError(fenceMember({ containerId: 'container-9', port: silentPort, credential: 'x' }, 2, 50));
    expect(timeout.message).toMatch(/^Fence of container container-9 .*failed: no answer within 50 ms/);
  });
});
