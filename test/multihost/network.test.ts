import { connect, createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumDumpDom } from './support/chromium.js';
import { cleanupStale, createTestNetwork, type TestNetwork } from './support/netns.js';
import { multihostUnavailable } from './support/preconditions.js';
import { startRedisOnBridge, type BridgeRedis } from './support/redis-on-bridge.js';

/**
 * The multi-host tier's ground: two namespaces on one bridge reach Redis in the root namespace and each other,
 * cannot reach the root namespace's loopback services, and a Chromium in one loads a page served from the other.
 */
const unavailable = multihostUnavailable();
if (unavailable) console.warn(`multihost tier skipped: ${unavailable}`);

const probe = (name: string): string => fileURLToPath(new URL(`./support/probes/${name}`, import.meta.url));
const NODE = process.execPath;
/** Budget for a tiny node server to print its port; generous for a machine with both cores busy. */
const START_BUDGET_MS = 30_000;

interface ProbeResult {
  connected: boolean;
  reply?: string;
  error?: string;
}

describe.skipIf(!!unavailable)(unavailable ? `network namespaces (skipped: ${unavailable})` : 'network namespaces on one bridge', () => {
  let network: TestNetwork;
  let redis: BridgeRedis;
  let rootLoopback: Server;
  let rootLoopbackPort: number;

  beforeAll(async () => {
    await cleanupStale();
    network = await createTestNetwork({ name: 'smoke', hosts: ['a', 'b'] });
    redis = await startRedisOnBridge(network);
    rootLoopback = createServer((socket) => socket.end('root-loopback\r\n'));
    await new Promise<void>((resolve) => rootLoopback.listen(0, '127.0.0.1', resolve));
    rootLoopbackPort = (rootLoopback.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => rootLoopback?.close(resolve));
    await redis?.dispose();
    await network?.dispose();
  });

  const tcpProbe = async (host: string, address: string, port: number, line?: string): Promise<ProbeResult> => {
    const result = await network.run(host, [NODE, probe('tcp-probe.mjs'), address, String(port), ...(line === undefined ? [] : [line])]);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout.trim()) as ProbeResult;
  };

  it('gives each namespace its own address and no default route', async () => {
    expect(network.addressOf('a')).not.toBe(network.addressOf('b'));
    for (const host of ['a', 'b']) {
      const routes = await network.run(host, ['ip', 'route']);
      expect(routes.code).toBe(0);
      expect(routes.stdout).toContain(network.bridgeAddress.replace(/\.1$/, '.0/24'));
      expect(routes.stdout).not.toMatch(/^default/m);
    }
  });

  it('reaches Redis on the bridge address from both namespaces', async () => {
    const client = redis.connect();
    const token = `netns-${process.pid}`;
    try {
      await client.set('cq-netns-smoke', token);
    } finally {
      client.disconnect();
    }
    for (const host of ['a', 'b']) {
      const reply = await tcpProbe(host, network.bridgeAddress, redis.port, 'GET cq-netns-smoke');
      expect(reply).toMatchObject({ connected: true });
      expect(reply.reply).toContain(token);
    }
  });

  it('cannot reach a service on the root namespace loopback (neither as 127.0.0.1 nor on the bridge address)', async () => {
    // The same service answers from the root namespace: the refusals below come from the namespace boundary.
    const fromRoot = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: rootLoopbackPort });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(fromRoot).toContain('root-loopback');
    for (const address of ['127.0.0.1', network.bridgeAddress]) {
      const reply = await tcpProbe('b', address, rootLoopbackPort);
      expect(reply, `namespace b reached the root namespace's loopback service via ${address}`).toMatchObject({ connected: false, error: 'ECONNREFUSED' });
    }
  });

  it('serves a page from namespace a that namespace b fetches and namespace a itself fetches on its own address', async () => {
    const token = `page-from-a-${process.pid}`;
    const server = network.exec('a', [NODE, probe('page-server.mjs'), '0.0.0.0', token]);
    const port = Number((await server.waitForLine(/^listening \d+/, START_BUDGET_MS)).split(' ')[1]);
    const url = `http://${network.addressOf('a')}:${port}/from-b`;
    const fetched = await network.run('b', [NODE, probe('http-get.mjs'), url]);
    expect(fetched.code, fetched.stderr).toBe(0);
    const reply = JSON.parse(fetched.stdout.trim()) as { status?: number; body?: string; error?: string };
    expect(reply, fetched.stdout).toMatchObject({ status: 200 });
    expect(reply.body).toContain(token);
    expect(reply.body).toContain('/from-b');
    // The root namespace has no address of its own in a's namespace: a's loopback is a's.
    const local = await tcpProbe('b', '127.0.0.1', port);
    expect(local, 'b reached a server of a on its own loopback').toMatchObject({ connected: false, error: 'ECONNREFUSED' });
    await server.stop();
  });

  it('runs Chromium in namespace a that loads a page served from namespace b', async () => {
    const token = `page-from-b-${process.pid}`;
    const server = network.exec('b', [NODE, probe('page-server.mjs'), '0.0.0.0', token]);
    const port = Number((await server.waitForLine(/^listening \d+/, START_BUDGET_MS)).split(' ')[1]);
    const chromium = chromiumDumpDom(`http://${network.addressOf('b')}:${port}/for-chromium`);
    try {
      const dumped = await network.run('a', chromium.argv);
      expect(dumped.code, dumped.stderr.slice(-2000)).toBe(0);
      expect(dumped.stdout).toContain(`<p id="token">${token}</p>`);
      expect(dumped.stdout).toContain('<p id="path">/for-chromium</p>');
    } finally {
      chromium.removeProfile();
      await server.stop();
    }
  });
});
