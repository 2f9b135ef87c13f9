import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildPoolImage, poolImageTag } from '../../../src/runtime/docker/pool-image.js';
import { REPO_ROOT } from './host-agent.js';
import type { TestNetwork } from './netns.js';
import { daemonCgroupParent, daemonStateDir, removeDaemonState, type DaemonLeftovers } from './netns-dockerd-sweep.js';
import { mustRun, runCommand, type CommandResult } from './run-command.js';

/**
 * A Docker daemon of its own for one host namespace, so that `--runtime docker` agents run their members on "their"
 * machine: containers, bridge, NAT and published ports all inside the namespace. Started with
 * `nsenter --net=/run/netns/NS dockerd ...` (`ip netns exec` remounts /sys and dockerd then fails with "Devices
 * cgroup isn't mounted"), with its own data-root, exec-root, socket and pidfile under /tmp/<namespace>-dockerd and
 * its containers under its own cgroup parent (see netns-dockerd-sweep.ts: how a crashed run's daemon is removed).
 * No registry is reachable: the pool image goes in with `docker load` from a `docker save` of the root daemon's.
 */
export interface NamespaceDockerd extends AsyncDisposable {
  readonly host: string;
  readonly namespace: string;
  /** `unix:///tmp/<namespace>-dockerd/docker.sock`: DOCKER_HOST for an agent (dockerode and the docker CLI read it). */
  readonly dockerHost: string;
  readonly stateDir: string;
  readonly pid: number;
  /** `docker -H <this daemon> ARGS` to completion. */
  docker(args: readonly string[]): Promise<CommandResult>;
  /** `docker load -i TAR` into this daemon. */
  loadImage(tarPath: string): Promise<void>;
  /** True while the dockerd process runs. */
  running(): boolean;
  /**
   * SIGTERM (dockerd stops its containers), SIGKILL after the grace, then removes state, mounts and cgroups.
   * Resolves with what had to be removed by force besides the folder (empty lists after a clean stop). Safe twice.
   */
  stop(): Promise<DaemonLeftovers>;
}

/** Room for the pool image (~1 GB unpacked) and a few containers' writable layers; memory is used only as filled. */
const STATE_TMPFS_SIZE = '4g';
/** A cold dockerd answers /_ping in about a second here; the budget is for both cores busy. */
const DAEMON_READY_BUDGET_MS = 60_000;
/** dockerd's own shutdown waits up to 15 s for containers (10 s stop timeout + margin): more than that is a hang. */
const DAEMON_STOP_GRACE_MS = 45_000;

export async function startNamespaceDockerd(network: TestNetwork, host: string): Promise<NamespaceDockerd> {
  const namespace = network.namespaceOf(host);
  const stateDir = daemonStateDir(namespace);
  await removeDaemonState(namespace); // a leftover with this exact name cannot be ours: the id is new
  mkdirSync(stateDir, { recursive: true });
  // On a tmpfs: deleting a loaded ~1 GB image from this disk took minutes at load 25 (unlink waits on discards);
  // an unmount is instant. The sweep unmounts it like any other mount under the folder.
  await mustRun('mount', ['-t', 'tmpfs', '-o', `size=${STATE_TMPFS_SIZE},mode=0700`, 'tmpfs', stateDir]);
  const socket = join(stateDir, 'docker.sock');
  const logFile = join(stateDir, 'dockerd.log');
  const log = openSync(logFile, 'a');
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${namespace}`,
      'dockerd',
      '--data-root',
      join(stateDir, 'data'),
      '--exec-root',
      join(stateDir, 'exec'),
      '--host',
      `unix://${socket}`,
      '--pidfile',
      join(stateDir, 'docker.pid'),
      '--cgroup-parent',
      daemonCgroupParent(namespace),
      '--log-level',
      'warn',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  closeSync(log);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('error', () => ((exited = true), resolve()));
    child.once('close', () => ((exited = true), resolve()));
  });
  const logTail = (): string => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  };
  const dockerHost = `unix://${socket}`;

  let stopping: Promise<DaemonLeftovers> | undefined;
  const stop = (): Promise<DaemonLeftovers> =>
    (stopping ??= (async () => {
      if (!exited && child.pid !== undefined) {
        process.kill(child.pid, 'SIGTERM');
        const timer = setTimeout(() => !exited && child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), DAEMON_STOP_GRACE_MS);
        await exit;
        clearTimeout(timer);
      }
      const left = await removeDaemonState(namespace);
      // The state folder's tmpfs is the harness's own mount, not something the daemon left behind.
      return { ...left, mounts: left.mounts.filter((mount) => mount !== stateDir) };
    })());

  try {
    if (child.pid === undefined) throw new Error('could not spawn nsenter (util-linux) for dockerd');
    await waitForPing(socket, () => exited);
  } catch (error) {
    const tail = logTail();
    await stop().catch(() => undefined);
    throw new Error(`dockerd for ${host} (${namespace}) did not start: ${error instanceof Error ? error.message : String(error)}\n${tail}`);
  }

  const docker = (args: readonly string[]): Promise<CommandResult> => runCommand('docker', ['-H', dockerHost, ...args]);
  return {
    host,
    namespace,
    dockerHost,
    stateDir,
    pid: child.pid,
    docker,
    async loadImage(tarPath) {
      const loaded = await docker(['load', '-i', tarPath]);
      if (loaded.code !== 0) throw new Error(`docker load into ${host}'s daemon failed (exit ${loaded.code}): ${loaded.stderr.trim()}\n${logTail()}`);
    },
    running: () => !exited,
    stop,
    [Symbol.asyncDispose]: async () => void (await stop()),
  };
}

async function waitForPing(socketPath: string, exited: () => boolean): Promise<void> {
  const deadline = performance.now() + DAEMON_READY_BUDGET_MS;
  let delay = 50;
  for (;;) {
    if (exited()) throw new Error('dockerd exited during start');
    try {
      await new Docker({ socketPath, timeout: 5_000 }).ping();
      return;
    } catch {
      if (performance.now() > deadline) throw new Error(`no answer on ${socketPath} within ${DAEMON_READY_BUDGET_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/** Where saved images are kept between runs: saving the ~1 GB pool image takes about 20 s. */
const IMAGE_CACHE_DIR = '/var/tmp/cinnamon-qa-netns-images';
/** Older cache files go when a new one is written; not younger ones, another run may be about to load them. */
const CACHE_KEEP_MS = 60 * 60_000;

/**
 * The pool image as the product resolves it (docker/build-image.sh --print-tag; built in the root daemon when
 * missing, as a docker run would), saved to a tar file named by its image id: reused by later runs while the image
 * is unchanged. Written under a temporary name and renamed, so a concurrent run never loads half a file.
 */
export async function savedPoolImage(): Promise<{ tag: string; tarPath: string }> {
  let tag = await poolImageTag(REPO_ROOT);
  let inspected = await runCommand('docker', ['image', 'inspect', '--format', '{{.Id}}', tag]);
  if (inspected.code !== 0) {
    tag = (await buildPoolImage(REPO_ROOT)).tag;
    inspected = await runCommand('docker', ['image', 'inspect', '--format', '{{.Id}}', tag]);
  }
  const id = inspected.stdout.trim().replace(/^sha256:/, '');
  if (inspected.code !== 0 || !/^[0-9a-f]{64}$/.test(id)) throw new Error(`docker image inspect ${tag} failed: ${inspected.stderr.trim()}`);
  mkdirSync(IMAGE_CACHE_DIR, { recursive: true });
  const tarPath = join(IMAGE_CACHE_DIR, `${id.slice(0, 16)}.tar`);
  try {
    statSync(tarPath);
    return { tag, tarPath };
  } catch {
    // not saved yet
  }
  const partial = `${tarPath}.${process.pid}.partial`;
  try {
    await mustRun('docker', ['save', '-o', partial, tag]);
    renameSync(partial, tarPath);
  } finally {
    rmSync(partial, { force: true });
  }
  for (const name of readdirSync(IMAGE_CACHE_DIR)) {
    const path = join(IMAGE_CACHE_DIR, name);
    if (path !== tarPath && Date.now() - statSync(path).mtimeMs > CACHE_KEEP_MS) rmSync(path, { force: true });
  }
  return { tag, tarPath };
}
