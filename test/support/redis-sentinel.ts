import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePorts } from './ports.js';

const REDIS_SERVER_BIN = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
export const SENTINEL_MASTER_NAME = 'cq-failover';
/**
 * Generous on purpose: on a loaded 2-core machine a sentinel notices the master down after 1 s
 * (down-after-milliseconds) and promotes in ≈ 2 s when quiet; the budget only bounds a hang.
 */
const BUDGET_MS = 60_000;

/**
 * A real Redis failover on one machine: a master, one replica (`--replicaof`) and one sentinel (quorum 1,
 * down-after 1000 ms, failover-timeout 5000 ms), each a redis-server child process on a free port, files in a
 * temp dir. `stop()` kills every process and removes the dir (safe to call twice; call it in `finally`).
 */
export interface SentinelRedis {
  /** `redis-sentinel://127.0.0.1:<sentinel port>/cq-failover` */
  readonly url: string;
  readonly masterPort: number;
  readonly replicaPort: number;
  /** A direct connection to one of the data servers (the caller closes it). */
  connectTo(port: number): Redis;
  /** The port the sentinel names as master now. */
  masterPortNow(): Promise<number>;
  /** SIGKILL of the current master process; resolves to its port. */
  killMaster(): Promise<number>;
  /** Waits until the sentinel names a master other than `oldPort`; returns its port. */
  waitForPromotion(oldPort: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startSentinelRedis(): Promise<SentinelRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'cq-sentinel-'));
  const children: ChildProcess[] = [];
  const byPort = new Map<number, ChildProcess>();
  const connections: Redis[] = [];
  const [masterPort, replicaPort, sentinelPort] = (await freePorts(3)) as [number, number, number];
  const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const launch = (args: string[], port: number): void => {
    const child = spawn(REDIS_SERVER_BIN, args, { stdio: 'ignore' });
    child.on('error', () => {}); // a missing binary shows as the ping below failing, with the budget's message
    children.push(child);
    byPort.set(port, child);
  };
  const connectTo = (port: number): Redis => {
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', () => {});
    connections.push(redis);
    return redis;
  };
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const c of connections) c.disconnect();
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    launch(['--port', String(masterPort), ...base, '--dbfilename', 'master.rdb'], masterPort);
    launch(['--port', String(replicaPort), ...base, '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(masterPort)], replicaPort);
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
        '',
      ].join('\n'),
    );
    launch([conf, '--sentinel'], sentinelPort);
    const sentinel = connectTo(sentinelPort);
    const replica = connectTo(replicaPort);
    // Ready when the replica is in sync and the sentinel lists it as a healthy replica (it can promote it).
    await poll('the replica to sync and the sentinel to know it', async () => {
      const info = await replica.info('replication');
      if (!/master_link_status:up/.test(info)) return false;
      const replicas = (await sentinel.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as string[][];
      return replicas.some((fields) => {
        const flags = fields[fields.indexOf('flags') + 1] ?? '';
        return fields[fields.indexOf('port') + 1] === String(replicaPort) && flags === 'slave';
      });
    });
    const masterPortNow = async (): Promise<number> => {
      const addr = (await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME)) as [string, string] | null;
      return Number(addr?.[1]);
    };
    return {
      url: `redis-sentinel://127.0.0.1:${sentinelPort}/${SENTINEL_MASTER_NAME}`,
      masterPort,
      replicaPort,
      connectTo,
      masterPortNow,
      killMaster: async () => {
        const port = await masterPortNow();
        const child = byPort.get(port);
        if (!child) throw new Error(`The sentinel names port ${port} as master, which is none of this set's servers`);
        child.kill('SIGKILL');
        return port;
      },
      waitForPromotion: async (oldPort) => {
        let port = oldPort;
        await poll('the sentinel to promote the replica', async () => (port = await masterPortNow()) !== oldPort && port > 0);
        return port;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function poll(what: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + BUDGET_MS;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      if (await ready()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
