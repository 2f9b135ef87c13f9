import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerRecordSchema } from '../../src/store/record-schemas.js';
import { startAgent, startShard } from '../multihost/support/host-agent.js';
import { overlappingLeases, readLeaseHistory } from '../multihost/support/lease-history.js';
import { cleanupStale, createTestNetwork, type NetnsChild, type TestNetwork } from '../multihost/support/netns.js';
import { daemonCgroupParent } from '../multihost/support/netns-dockerd-sweep.js';
import { savedPoolImage, startNamespaceDockerd, type NamespaceDockerd } from '../multihost/support/netns-dockerd.js';
import { multihostUnavailable } from '../multihost/support/preconditions.js';
import { startRedisOnBridge, type BridgeRedis } from '../multihost/support/redis-on-bridge.js';
import { runCommand } from '../multihost/support/run-command.js';
import { SHARD_OUTPUT_DIR_ENV } from '../multihost/support/shard-env.js';

/**
 * Docker members on "other machines" (issue 11): two host namespaces (h1, h2), each with its own Docker daemon
 * (netns-dockerd.ts) and an agent `--runtime docker --containers 1` on it; a shard in a third namespace (s1) runs
 * part of the example suite with `playwright test` in shared mode on one Redis in the root namespace. Every test
 * passes on members of both hosts, the members' containers ran in the namespaces' daemons (none in the root
 * daemon), and after SIGTERM the agents drain and leave no container; the daemons then stop and leave nothing.
 */
/**
 * Opt-in (FAULTS_DOCKER_HOSTS=1; `.ci/run` sets it): it needs root and saves a 1 GB image once. About 70 s at load 5
 * (2026-12-02, three passes in a row). The first runs, at load 23-43, lost tests to members whose Docker health
 * check (2 s timeout in the image) timed out three times in a row; members now get a 10 s timeout at create.
 */
const OPT_IN = process.env['FAULTS_DOCKER_HOSTS'] === '1' ? undefined : 'opt-in: set FAULTS_DOCKER_HOSTS=1 (see the comment above)';
const unavailable = OPT_IN ?? multihostUnavailable() ?? dockerUnavailable();
if (unavailable) console.warn(`docker hosts fault skipped: ${unavailable}`);

const SHARD_CONFIG = fileURLToPath(new URL('../multihost/support/shard.config.ts', import.meta.url));
const HOSTS = ['h1', 'h2'] as const;
const SHARD = 's1';
/**
 * Three tests of the example suite on two workers and two members: both members are asked for at once, and one
 * test waits for a release. Not catalog's 'a product link opens its page': at load 20-25 here its click's
 * navigation overran the MCP server's 5 s action timeout twice (an action budget of the server, not of the pool).
 */
const SPEC_FILTERS = ['catalog.spec', 'search.spec'] as const;
const TEST_GREP = 'lists every product|typing in the search box|a search without matches';
const TESTS_EXPECTED = 3;
/** Member label stamped by the docker runtime on each container (src/runtime/docker/docker-labels.ts). */
const CONTAINER_LABEL = 'cinnamon-qa.container';
const POOL_LABEL = 'cinnamon-qa.pool';
/**
 * The example suite's 30 s per test is for a developer machine; at load 20 here a test on a Docker member in a
 * namespace took 15-24 s and one went over 30 s. A budget, so that the run checks the pool, not the machine.
 */
const TEST_TIMEOUT_MS = 120_000;
/** Saving the image (first run on a machine) and two `docker load`s of ~1 GB on 2 busy cores: a budget. */
const SETUP_BUDGET_MS = 300_000;
/** Agents start and gate Docker members, the shard runs 4 tests, the agents drain: a budget for load 12. */
const CASE_BUDGET_MS = 420_000;
/** Drain: no holder is left by then, so it is stopping one container per host. */
const DRAIN_BUDGET_MS = 120_000;

describe.skipIf(!!unavailable)(unavailable ? `docker hosts (skipped: ${unavailable})` : 'Docker members in namespace daemons', () => {
  let network: TestNetwork;
  let redis: BridgeRedis;
  let client: Redis | undefined;
  const daemons = new Map<string, NamespaceDockerd>();
  const agents = new Map<string, NetnsChild>();

  beforeAll(async () => {
    const started = performance.now();
    await cleanupStale();
    network = await createTestNetwork({ name: 'docker-hosts', hosts: [...HOSTS, SHARD] });
    redis = await startRedisOnBridge(network);
    const image = savedPoolImage();
    await Promise.all(
      HOSTS.map(async (host) => {
        const daemon = await startNamespaceDockerd(network, host);
        daemons.set(host, daemon);
        await daemon.loadImage((await image).tarPath);
      }),
    );
    console.log(`docker hosts: network, Redis, two daemons with the image loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, SETUP_BUDGET_MS);

  afterAll(async () => {
    client?.disconnect();
    // Agents before their daemons (a drain removes its containers), daemons before the network (dockerd runs in it).
    await Promise.all([...agents.values()].map((a) => a.stop(DRAIN_BUDGET_MS)));
    await Promise.all([...daemons.values()].map((d) => d.stop()));
    await network?.dispose();
    await redis?.dispose();
  }, SETUP_BUDGET_MS);

  it(
    'runs a shard on Docker members of two namespace daemons, then drains them to nothing',
    async () => {
      const poolId = `f11d-${network.names.id}-${process.pid}`;
      const prefix = `cinnamon-pool:${poolId}`;
      client = redis.connect();
      const t0 = performance.now();
      const phases: string[] = [];
      const phase = (name: string): void => void phases.push(`${name} ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      // ---- one agent per host, its member a container of the host's own daemon ----
      await Promise.all(
        HOSTS.map(async (host) => {
          const daemon = daemons.get(host)!;
          const { agent, readyLine } = await startAgent(network, host, {
            redisUrl: redis.url,
            poolId,
            containers: 1,
            runtime: 'docker',
            drainGraceMs: 0,
            env: { DOCKER_HOST: daemon.dockerHost },
          });
          agents.set(host, agent);
          expect(readyLine).toMatch(/healthy/i);
        }),
      );
      phase('agents ready');
      const members = Object.values(await client.hgetall(`${prefix}:containers`)).map((raw) => containerRecordSchema.parse(JSON.parse(raw)));
      expect(members.map((m) => `${m.hostId}:${m.id}`).sort()).toEqual(['h1:h1-1', 'h2:h2-1']);
      for (const member of members) expect(member.address).toBe(network.addressOf(member.hostId!));

      // The containers run in the namespaces' daemons, each holding exactly its host's member; the root daemon none.
      const poolLabels = new Set<string>();
      for (const host of HOSTS) {
        const listed = await daemons.get(host)!.docker(['ps', '--filter', `label=${POOL_LABEL}`, '--format', `{{.Label "${CONTAINER_LABEL}"}} {{.Label "${POOL_LABEL}"}} {{.State}}`]);
        expect(listed.code, listed.stderr).toBe(0);
        const rows = listed.stdout.trim().split('\n').filter(Boolean);
        expect(rows.map((r) => `${r.split(' ')[0]} ${r.split(' ')[2]}`), `containers in ${host}'s daemon`).toEqual([`${host}-1 running`]);
        poolLabels.add(rows[0]!.split(' ')[1]!);
      }
      for (const label of poolLabels) {
        const root = await runCommand('docker', ['ps', '-aq', '--filter', `label=${POOL_LABEL}=${label}`]);
        expect(root.code, root.stderr).toBe(0);
        expect(root.stdout.trim(), `pool ${label} has containers in the root daemon`).toBe('');
      }

      // ---- a shard from its own namespace: `playwright test` in shared mode on those members ----
      const out = join(network.tmpDirFor(SHARD), 'out');
      const shard = startShard(network, SHARD, ['-c', SHARD_CONFIG, `--timeout=${TEST_TIMEOUT_MS}`, '--grep', TEST_GREP, ...SPEC_FILTERS], {
        redisUrl: redis.url,
        poolId,
        env: { [SHARD_OUTPUT_DIR_ENV]: out },
      });
      const exit = await shard.exited;
      phase('shard done');
      const agentTails = [...agents].map(([host, agent]) => `agent ${host} stderr:\n${agent.stderr().slice(-2500)}`).join('\n');
      const shardOutput = `${shard.stdout().slice(-6000)}\n${shard.stderr().slice(-3000)}\n${agentTails}`;
      expect(exit, `shard failed:\n${shardOutput}`).toEqual({ code: 0, signal: null });
      // The tests plus the pool's analytics entry (its own teardown project) are what Playwright counts.
      expect(shard.stdout(), shardOutput).toMatch(new RegExp(`\\b${TESTS_EXPECTED + 1} passed\\b`));
      // Playwright's own summary lines ('  1 failed'); the pool's analytics say '0 failed' of allocations and cleanups.
      expect(shard.stdout(), shardOutput).not.toMatch(/^\s*\d+ (failed|flaky|skipped)\b/m);

      // ---- the store: leases on both hosts' members, every one ended, none overlapping ----
      const { spans } = await readLeaseHistory(client, prefix);
      expect(spans.filter((s) => s.endedAt === null), 'leases still active after the shard ended').toEqual([]);
      expect(overlappingLeases(spans)).toEqual([]);
      const perMember = Object.fromEntries(members.map((m) => [m.id, spans.filter((s) => s.containerId === m.id).length]));
      console.log(`docker hosts ${poolId}: ${spans.length} leases ${JSON.stringify(perMember)}`);
      // Every lease went to a Docker member of a namespace daemon. Whether both members got one depends on how the two
      // workers interleave (a worker keeps its lease for its next test), so it is logged above, not asserted; that
      // each daemon ran its own member is asserted below.
      expect(spans.length).toBeGreaterThan(0);
      expect(spans.filter((s) => !(s.containerId in perMember)), 'leases on containers that are not the two Docker members').toEqual([]);

      // ---- SIGTERM: agents drain and exit 0; no container left in either daemon ----
      for (const agent of agents.values()) agent.signal('SIGTERM');
      for (const [host, agent] of agents) {
        const drained = await Promise.race([agent.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), DRAIN_BUDGET_MS).unref())]);
        expect(drained, `agent ${host} after SIGTERM:\n${agent.stderr().slice(-3000)}`).toEqual({ code: 0, signal: null });
      }
      phase('agents drained');
      expect(await client.hgetall(`${prefix}:containers`), 'members left in the pool after the agents drained').toEqual({});
      for (const host of HOSTS) {
        const all = await daemons.get(host)!.docker(['ps', '-a', '--format', '{{.Names}} {{.State}}']);
        expect(all.code, all.stderr).toBe(0);
        expect(all.stdout.trim(), `containers left in ${host}'s daemon after the drain`).toBe('');
      }

      // ---- the daemons stop on SIGTERM with nothing to force: no process, mount, state folder or cgroup left ----
      for (const host of HOSTS) {
        const daemon = daemons.get(host)!;
        const leftovers = await daemon.stop();
        expect({ processes: leftovers.processes, mounts: leftovers.mounts }, `${host}'s daemon left these after its own shutdown`).toEqual({ processes: [], mounts: [] });
        expect(daemon.running()).toBe(false);
        expect(existsSync(`/proc/${daemon.pid}`), `dockerd ${daemon.pid} of ${host} still exists`).toBe(false);
        expect(existsSync(daemon.stateDir), `${daemon.stateDir} left`).toBe(false);
        expect(cgroupsLeft(daemonCgroupParent(daemon.namespace)), `cgroups of ${host}'s daemon left`).toEqual([]);
        expect(await network.pidsIn(host), `processes left in ${host}'s namespace`).toEqual([]);
      }
      phase('daemons stopped');
      console.log(`docker hosts: ${phases.join(', ')}`);
    },
    CASE_BUDGET_MS,
  );
});

/** Why the root Docker daemon cannot serve here (the image comes from it), or undefined. */
function dockerUnavailable(): string | undefined {
  return existsSync('/var/run/docker.sock') ? undefined : 'needs a running Docker daemon at /var/run/docker.sock (the pool image is saved from it)';
}

/** Folders of `parent` in any cgroup hierarchy (v1 controllers or v2). */
function cgroupsLeft(parent: string): string[] {
  const root = '/sys/fs/cgroup';
  const candidates = existsSync(join(root, 'cgroup.controllers')) ? [join(root, parent)] : readControllers(root).map((c) => join(root, c, parent));
  return candidates.filter((path) => existsSync(path));
}

function readControllers(root: string): string[] {
  try {
    return readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .map((line) => line.split(':')[1] ?? '')
      .filter((c) => c && !c.startsWith('name='))
      .map((c) => c.split(',')[0]!)
      .filter((c) => existsSync(join(root, c)));
  } catch {
    return [];
  }
}
