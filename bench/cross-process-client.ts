/**
 * The worker side of bench/cross-process-latency.ts, run as its own Node process (like a Playwright worker):
 * talks to the coordinator named by CINNAMON_POOL_URL / CINNAMON_POOL_TOKEN, does a warm-up, then timed
 * allocate/release rounds, and prints one JSON line `{ allocateNs: number[], releaseNs: number[] }` on stdout.
 *
 * Modes (argv[2]):
 * - `client`: PoolClient.allocate / PoolClient.release, the bare round trip through the coordinator.
 * - `fixture`: WorkerLease.ensure / WorkerLease.release, what the fixtures do per lease (allocate, start the
 *   heartbeat, open the lease event stream and wait until it is in place).
 * - `floor`: two GET /v1/info per round (auth, routing, JSON, no store): the HTTP floor the others stand on.
 */
import { PoolClient } from '../src/protocol/pool-client.js';
import { WorkerLease } from '../fixtures/worker-lease.js';

const mode = process.argv[2] === 'fixture' || process.argv[2] === 'floor' ? process.argv[2] : 'client';
const rounds = Number(process.argv[3] ?? 2_000);
const warmup = Number(process.argv[4] ?? 200);

const client = PoolClient.fromEnv();
const lease = new WorkerLease(client);
const allocateNs: number[] = [];
const releaseNs: number[] = [];

for (let i = 0; i < warmup + rounds; i++) {
  const testRunId = `xp-${process.pid}-${i}`;
  const t0 = process.hrtime.bigint();
  let release: () => Promise<unknown>;
  if (mode === 'floor') {
    await client.info();
    release = () => client.info();
  } else if (mode === 'client') {
    const { allocation } = await client.allocate({ testRunId, priority: 'normal' });
    release = () => client.release(allocation.lease);
  } else {
    await lease.ensure(testRunId, 'normal');
    release = () => lease.release();
  }
  const t1 = process.hrtime.bigint();
  await release();
  const t2 = process.hrtime.bigint();
  if (i >= warmup) {
    allocateNs.push(Number(t1 - t0));
    releaseNs.push(Number(t2 - t1));
  }
}
client.close();
process.stdout.write(`${JSON.stringify({ allocateNs, releaseNs })}\n`);
