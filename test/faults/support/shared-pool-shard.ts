/**
 * A shard of a shared pool run as its own process inside a namespace (node --import tsx): it takes `count`
 * leases through openSharedPool, keeps them renewed at a quarter of their TTL as a shard's workers would, and
 * reports on stdout as JSON lines (`held` with the leases, then `renewed` after each round). The case SIGKILLs it.
 *
 * argv: <redisUrl> <poolId> <count> <leaseTtlMs>
 */
import type { Lease } from '../../../src/store/pool-store.js';
import { openHolder } from './shared-pool-holder.js';

const [redisUrl = '', poolId = '', count = '1', ttl = '4000'] = process.argv.slice(2);
const leaseTtlMs = Number(ttl);
const say = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const holder = await openHolder({ redisUrl, poolId, leaseTtlMs });
const leases: Lease[] = [];
for (let i = 0; i < Number(count); i++) {
  const allocation = await holder.manager.allocateContainerAdvanced({ testRunId: `killed-shard-${i}` });
  leases.push(allocation.lease);
}
say({ type: 'held', leases: leases.map((l) => ({ leaseId: l.leaseId, token: l.token, containerId: l.containerId })) });
let rounds = 0;
const renew = async (): Promise<void> => {
  for (const lease of leases) await holder.manager.renewLease({ leaseId: lease.leaseId, token: lease.token });
  say({ type: 'renewed', rounds: ++rounds });
};
// Kept alive by this interval until the test kills the process.
setInterval(() => void renew().catch((error: unknown) => say({ type: 'renew-failed', error: String(error) })), leaseTtlMs / 4);
