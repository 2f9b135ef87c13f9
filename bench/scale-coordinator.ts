/**
 * The coordinator side of bench/scale.ts, in its own process so its memory is measured alone (run with
 * `--expose-gc`): a ContainerPoolManager over the fake runtime behind the HTTP coordinator.
 * Store: Redis when SCALE_REDIS_URL is set, memory otherwise.
 * Protocol: prints `{"url","token"}` as its first stdout line; then answers each stdin line:
 * `mem` → one JSON line with rssBytes/heapUsedBytes after a forced GC; `stop` → shuts down and exits.
 */
import { createInterface } from 'node:readline';
import { parsePoolOptions } from '../src/config/pool-config.js';
import { startCoordinator } from '../src/coordinator/coordinator-server.js';
import { ContainerPoolManager } from '../src/pool/container-pool-manager.js';
import { MemoryPoolStore } from '../src/store/memory-store.js';
import { RedisPoolStore } from '../src/store/redis-store.js';
import { FakeCleaner, FakeFence, FakeHealthGate, FakeResetter, FakeRuntime } from '../test/support/fakes.js';

const redisUrl = process.env.SCALE_REDIS_URL;
const store = redisUrl ? new RedisPoolStore({ redis: redisUrl, keyPrefix: `bench-scale-${process.pid}` }) : new MemoryPoolStore();
const runtime = new FakeRuntime();
const manager = new ContainerPoolManager({
  // No guard in front of fake members: a fence that only records.
  fence: new FakeFence().fence,
  // The scale configuration: 2 containers, the default queue bounds (maxConcurrentAllocations 10 = the 10
  // requesters; maxWaitTimeMs 300 s), and the given maxWaitTimeMs when the bench sets one.
  config: parsePoolOptions({
    containers: 2,
    ...(process.env.SCALE_MAX_WAIT_MS ? { resources: { maxWaitTimeMs: Number(process.env.SCALE_MAX_WAIT_MS) } } : {}),
  }),
  store,
  runtime,
  health: new FakeHealthGate(runtime),
  cleaner: new FakeCleaner(),
  resetter: new FakeResetter(),
  runId: 'scale',
});
await manager.initialize();
const coordinator = await startCoordinator({ manager, runtime: 'process' });
process.stdout.write(`${JSON.stringify({ url: coordinator.url, token: coordinator.token, settings: manager.resourceSettings() })}\n`);

const gc = (globalThis as { gc?: () => void }).gc;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'mem') {
    // Two passes: the first may only promote what the second frees.
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    process.stdout.write(`${JSON.stringify({ rssBytes: m.rss, heapUsedBytes: m.heapUsed, gcForced: gc !== undefined })}\n`);
  } else if (line === 'stop') {
    await coordinator.close();
    await manager.shutdown();
    if (store instanceof RedisPoolStore) await store.close();
    process.stdout.write('{"stopped":true}\n');
    // stdin would otherwise keep the process alive after the loop ends.
    process.stdin.destroy();
    break;
  }
}
