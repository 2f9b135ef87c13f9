import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

/** A Redis for integration tests: either the one named by REDIS_URL or a private `redis-server` child process. */
export interface TestRedis {
  readonly url: string;
  /** True when this helper started the server (and so will stop it). */
  readonly owned: boolean;
  /** A new connection; the caller closes it (`quit()` or `disconnect()`). */
  connect(): Redis;
  stop(): Promise<void>;
}

const REDIS_SERVER_BIN = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
/** A cold redis-server starts in a few ms; this budget only matters on a very loaded CI machine. */
const START_BUDGET_MS = 10_000;

/**
 * Uses REDIS_URL when set (CI with a shared server); otherwise starts `redis-server` on a free port with
 * persistence off, so tests never write dump files and never touch a developer's own Redis.
 */
export async function startTestRedis(): Promise<TestRedis> {
  const fromEnv = process.env['REDIS_URL'];
  if (fromEnv) {
    await waitForPing(fromEnv, START_BUDGET_MS);
    return { url: fromEnv, owned: false, connect: () => newConnection(fromEnv), stop: async () => {} };
  }

  const port = await freePort();
  const child = spawn(REDIS_SERVER_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`Could not start ${REDIS_SERVER_BIN}: ${error.message}. Install redis-server (apt-get install -y redis-server) or set REDIS_URL.`)),
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`${REDIS_SERVER_BIN} exited during start (code ${code}, signal ${signal}):\n${output}`)),
    );
  });
  spawnFailed.catch(() => {}); // observed through Promise.race below; a later exit must not be unhandled

  const url = `redis://127.0.0.1:${port}`;
  try {
    await Promise.race([waitForPing(url, START_BUDGET_MS), spawnFailed]);
  } catch (error) {
    await stopChild(child);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    owned: true,
    connect: () => newConnection(url),
    stop: () => (stopping ??= stopChild(child)),
  };
}

/** A key prefix no other test (or earlier run against a shared REDIS_URL) uses. */
export function uniquePrefix(label = 'test'): string {
  return `cqa-test:${label}:${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix` (for a shared REDIS_URL server; a private server just stops). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

function newConnection(url: string): Redis {
  // Fail fast in tests: a dead server should fail the test, not hang it in ioredis' reconnect loop.
  return new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
}

async function waitForPing(url: string, budgetMs: number): Promise<void> {
  const deadline = performance.now() + budgetMs;
  let delay = 10;
  let lastError: unknown;
  while (performance.now() < deadline) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    probe.on('error', () => {}); // the loop reports the last failure; ioredis would otherwise log each one
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') return;
    } catch (error) {
      lastError = error;
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 200);
  }
  throw new Error(`Redis at ${url} did not answer PING within ${budgetMs} ms: ${String(lastError)}`);
}


async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}
