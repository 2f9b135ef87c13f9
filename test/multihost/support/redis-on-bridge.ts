import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../support/ports.js';
import type { TestNetwork } from './netns.js';
import { recordRootChild } from './netns-owner.js';

/** A private redis-server in the root namespace that every host namespace reaches on the bridge address. */
export interface BridgeRedis extends AsyncDisposable {
  /** redis://BRIDGE:PORT, the URL to hand to agents and shards inside namespaces. */
  readonly url: string;
  /** redis://127.0.0.1:PORT, for the test process itself. */
  readonly localUrl: string;
  readonly port: number;
  /** A new connection from the test process; the caller closes it. */
  connect(): Redis;
  /** Kills the server; safe to call twice. */
  dispose(): Promise<void>;
}

const REDIS_SERVER_BIN = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
/** A cold redis-server answers within milliseconds; the budget is for a machine with both cores busy. */
const START_BUDGET_MS = 15_000;

export async function startRedisOnBridge(network: Pick<TestNetwork, 'bridgeAddress' | 'names'>): Promise<BridgeRedis> {
  const { bridgeAddress } = network;
  const port = await freePort();
  const child = spawn(
    REDIS_SERVER_BIN,
    ['--port', String(port), '--bind', `${bridgeAddress} 127.0.0.1`, '--protected-mode', 'no', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // A crashed run's Redis is outside every namespace: recorded so that the next run's cleanupStale ends it.
  if (child.pid !== undefined) recordRootChild(network.names.ruleComment, child.pid, 'redis-server');
  let output = '';
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-4000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (error) => (output += `\nspawn error: ${error.message} (install redis-server: apt-get install -y redis-server)`));

  const localUrl = `redis://127.0.0.1:${port}`;
  const url = `redis://${bridgeAddress}:${port}`;
  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => (disposing ??= stop(child, exited));
  try {
    await waitForPing(localUrl, child, () => output);
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    url,
    localUrl,
    port,
    connect: () => new Redis(localUrl, { maxRetriesPerRequest: 1 }),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

async function waitForPing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = performance.now() + START_BUDGET_MS;
  let delay = 10;
  while (performance.now() < deadline) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) throw new Error(`${REDIS_SERVER_BIN} exited during start:\n${output()}`);
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
  }
  throw new Error(`${REDIS_SERVER_BIN} on ${url} did not answer PING within ${START_BUDGET_MS} ms:\n${output()}`);
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
