import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { allowBridgeTraffic } from './bridge-firewall.js';
import { spawnInNamespace, type ChildExit, type NetnsChild } from './netns-child.js';
import { DEFAULT_NETNS_PREFIX, SHORT_TMP_ROOT, networkNames, type NetworkNames } from './netns-names.js';
import { forgetOwner, recordOwner } from './netns-owner.js';
import { mustRun, runCommand } from './run-command.js';
import { killNamespaceProcesses, namespacePids } from './stale-cleanup.js';

export { cleanupStale } from './stale-cleanup.js';
export type { NetnsChild } from './netns-child.js';

/**
 * Several "hosts" on one machine: one Linux network namespace per host, each with a veth into one bridge in the
 * root namespace, addresses in 10.231.N.0/24 and **no default route** (a daemon inside must not reach the
 * outside network, nor the root namespace's loopback services). The root namespace holds `.1` on the bridge:
 * a service meant for every host (Redis) listens there.
 */
export interface TestNetworkOptions {
  /** A label for messages (the names on the machine use a random id). */
  readonly name: string;
  /** Host names: 1-8 lower-case letters or digits each, e.g. ['h1', 'h2', 's1']. */
  readonly hosts: readonly string[];
  /** Prefix of every interface, namespace and rule (what cleanupStale sweeps). @defaultValue 'cq' */
  readonly prefix?: string;
}

export interface ExecOptions {
  /** Added to the test process's environment (minus vitest's own variables). */
  readonly env?: Record<string, string>;
  /** @defaultValue the test process's working directory */
  readonly cwd?: string;
}

export interface RunResult extends ChildExit {
  readonly stdout: string;
  readonly stderr: string;
}

export interface TestNetwork extends AsyncDisposable {
  readonly names: NetworkNames;
  /** The root namespace's address on the bridge (e.g. 10.231.7.1). */
  readonly bridgeAddress: string;
  readonly hosts: readonly string[];
  addressOf(host: string): string;
  namespaceOf(host: string): string;
  /** Starts `argv` inside `host`'s namespace in its own process group; dispose() ends it if the test did not. */
  exec(host: string, argv: readonly string[], options?: ExecOptions): NetnsChild;
  /** exec() to the end: what it printed and how it exited. */
  run(host: string, argv: readonly string[], options?: ExecOptions): Promise<RunResult>;
  /** A short folder for `host`'s TMPDIR (`/tmp/<namespace>`: unix socket paths are limited to 107 bytes),
   * created now, removed at dispose and by cleanupStale after a crash. */
  tmpDirFor(host: string): string;
  /** Pids of every process (ours or not) running in `host`'s namespace. */
  pidsIn(host: string): Promise<number[]>;
  /** Ends every process it spawned and every process left in its namespaces, then deletes namespaces, veths,
   * bridge, iptables rule. Runs every step when one fails; safe to call twice. */
  dispose(): Promise<void>;
}

const SUBNET_BASE = '10.231';
const HOST_NAME = /^[a-z0-9]{1,8}$/;
/** Hosts get .10, .11, ... so that .1 (the bridge) stands out in messages. */
const FIRST_HOST_OCTET = 10;

export async function createTestNetwork(options: TestNetworkOptions): Promise<TestNetwork> {
  const hosts = [...options.hosts];
  for (const host of hosts) if (!HOST_NAME.test(host)) throw new Error(`test network ${options.name}: host name '${host}' must be 1-8 lower-case letters or digits`);
  if (new Set(hosts).size !== hosts.length) throw new Error(`test network ${options.name}: host names repeat: ${hosts.join(', ')}`);
  if (hosts.length > 200) throw new Error(`test network ${options.name}: at most 200 hosts`);

  const names = networkNames(options.prefix ?? DEFAULT_NETNS_PREFIX, randomBytes(3).readUIntBE(0, 3).toString(36).slice(0, 4).padStart(4, '0'));
  const octet = await freeSubnetOctet();
  const bridgeAddress = `${SUBNET_BASE}.${octet}.1`;
  const addresses = new Map(hosts.map((h, i) => [h, `${SUBNET_BASE}.${octet}.${FIRST_HOST_OCTET + i}`]));
  const undo: Array<() => Promise<unknown>> = [];
  const children = new Set<NetnsChild>();

  const teardown = async (): Promise<void> => {
    const failures: string[] = [];
    await Promise.all([...children].map((c) => c.stop()));
    for (const host of hosts) {
      try {
        await killNamespaceProcesses(names.namespace(host));
      } catch (error) {
        failures.push(String(error));
      }
    }
    for (const step of undo.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        failures.push(String(error));
      }
    }
    for (const host of hosts) rmSync(join(SHORT_TMP_ROOT, names.namespace(host)), { recursive: true, force: true });
    forgetOwner(names.ruleComment);
    if (failures.length > 0) throw new Error(`test network ${options.name} (${names.bridge}): teardown left work undone:\n${failures.join('\n')}`);
  };

  recordOwner(names.ruleComment);
  try {
    await mustRun('ip', ['link', 'add', names.bridge, 'type', 'bridge']);
    undo.push(() => removeIfPresent(['link', 'del', names.bridge]));
    await mustRun('ip', ['addr', 'add', `${bridgeAddress}/24`, 'dev', names.bridge]);
    await mustRun('ip', ['link', 'set', names.bridge, 'up']);
    undo.push(await allowBridgeTraffic(names.bridge, names.ruleComment));

    for (const [index, host] of hosts.entries()) {
      const ns = names.namespace(host);
      await mustRun('ip', ['netns', 'add', ns]);
      undo.push(() => removeIfPresent(['netns', 'del', ns]));
      const root = names.vethRoot(index);
      await mustRun('ip', ['link', 'add', root, 'type', 'veth', 'peer', 'name', names.vethPeer(index)]);
      undo.push(() => removeIfPresent(['link', 'del', root]));
      await mustRun('ip', ['link', 'set', names.vethPeer(index), 'netns', ns]);
      await mustRun('ip', ['-n', ns, 'link', 'set', names.vethPeer(index), 'name', 'eth0']);
      await mustRun('ip', ['-n', ns, 'addr', 'add', `${addresses.get(host)}/24`, 'dev', 'eth0']);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await mustRun('ip', ['link', 'set', root, 'master', names.bridge]);
      await mustRun('ip', ['link', 'set', root, 'up']);
    }
  } catch (error) {
    await teardown().catch(() => {}); // the creation error is the one to report
    throw error;
  }

  const known = (host: string): string => {
    if (!addresses.has(host)) throw new Error(`test network ${options.name}: no host '${host}' (hosts: ${hosts.join(', ')})`);
    return host;
  };
  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => (disposing ??= teardown());

  const exec = (host: string, argv: readonly string[], execOptions: ExecOptions = {}): NetnsChild => {
    if (disposing) throw new Error(`test network ${options.name} is disposed: cannot start ${argv[0]} on ${host}`);
    const child = spawnInNamespace(names.namespace(known(host)), argv, {
      env: { ...baseEnv(), ...execOptions.env },
      cwd: execOptions.cwd,
      label: `${argv.slice(0, 3).join(' ')} on ${host}`,
    });
    children.add(child);
    return child;
  };

  return {
    names,
    bridgeAddress,
    hosts,
    addressOf: (host) => addresses.get(known(host))!,
    namespaceOf: (host) => names.namespace(known(host)),
    exec,
    async run(host, argv, execOptions) {
      const child = exec(host, argv, execOptions);
      const exit = await child.exited;
      children.delete(child);
      return { ...exit, stdout: child.stdout(), stderr: child.stderr() };
    },
    tmpDirFor(host) {
      const dir = join(SHORT_TMP_ROOT, names.namespace(known(host)));
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    pidsIn: (host) => namespacePids(names.namespace(known(host))),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}

/** The test process's environment without vitest's own variables (a child is not a vitest worker). */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('VITEST') || key === 'TEST' || key === 'NODE_ENV') continue;
    env[key] = value;
  }
  return env;
}

/** `ip ARGS` that deletes something; fine when it is gone already (a veth goes with its namespace), else throws. */
async function removeIfPresent(args: readonly string[]): Promise<void> {
  const result = await runCommand('ip', args);
  if (result.code === 0 || /Cannot find device|No such file or directory|does not exist/i.test(result.stderr)) return;
  throw new Error(`\`ip ${args.join(' ')}\` failed (exit ${result.code}): ${result.stderr.trim()}`);
}

/** A third octet in 10.231.0.0/16 no interface on this machine uses yet. */
async function freeSubnetOctet(): Promise<number> {
  const used = new Set<number>();
  const listed = await mustRun('ip', ['-4', '-o', 'addr', 'show']);
  for (const match of listed.matchAll(/inet 10\.231\.(\d+)\./g)) used.add(Number(match[1]));
  const candidates = Array.from({ length: 254 }, (_, i) => i + 1).filter((o) => !used.has(o));
  if (candidates.length === 0) throw new Error('no free /24 left in 10.231.0.0/16: run cleanupStale() or delete old test bridges');
  return candidates[Math.floor(Math.random() * candidates.length)]!;
}
