/**
 * A Playwright-worker stand-in run as its own process (node --import tsx): it takes a lease through the
 * coordinator with PoolClient, keeps it alive with the heartbeat like the fixture does, and reports on
 * stdout as JSON lines. The scenarios SIGKILL or SIGSTOP it while it holds the lease.
 *
 * argv: <testRunId> <priority>. stdin: the line `stale-ops` makes it try every lease operation with the
 * token it was granted, and report what each answered.
 */
import { createInterface } from 'node:readline';
import { isPoolError } from '../../../src/errors/pool-error.js';
import { PoolClient } from '../../../src/protocol/pool-client.js';
import type { TestPriority } from '../../../src/domain/priority.js';

const [testRunId = 'holder', priority = 'normal'] = process.argv.slice(2);
const client = PoolClient.fromEnv();
const say = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const { allocation } = await client.allocate({ testRunId, priority: priority as TestPriority });
const lease = allocation.lease;
const ref = { leaseId: lease.leaseId, token: lease.token };
const heartbeat = client.startHeartbeat({ ...ref, ttlMs: lease.ttlMs }, { onLost: (e) => say({ type: 'lost', code: e.code }) });
say({ type: 'allocated', lease, containerId: allocation.container.id });

async function outcome(op: string, work: () => Promise<unknown>): Promise<{ op: string; code: string }> {
  try {
    await work();
    return { op, code: 'OK' };
  } catch (error) {
    return { op, code: isPoolError(error) ? error.code : `untyped: ${String(error)}` };
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'stale-ops') return;
  void (async () => {
    const results = [
      await outcome('renew', () => client.renew(ref)),
      await outcome('release', () => client.release(ref)),
      await outcome('extension', () => client.requestExtension({ testRunId, justification: 'after a pause', requestedMs: 5_000, currentTimeoutMs: 10_000, lease: ref })),
      await outcome('reset', () => client.reset(ref, 'soft')),
    ];
    heartbeat.stop();
    say({ type: 'ops', results, heartbeatLost: heartbeat.lost?.code ?? null });
    client.close();
    process.exit(0);
  })();
});
