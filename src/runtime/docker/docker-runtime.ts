import type Docker from 'dockerode';
import type { Clock } from '../../clock/clock.js';
import type { ContainerSpec } from '../../config/pool-config.js';
import type {
  ContainerRuntime,
  ExecResult,
  RunContext,
  StartContext,
  RuntimeContainerInfo,
  RuntimeEvent,
  RuntimeState,
  RuntimeStats,
} from '../container-runtime.js';
import { MCP_SERVER_LIFECYCLE_ENV, mcpServerLifecycleArgs } from '../mcp-server-command.js';
import { currentRunOwner } from '../run-owner.js';
import { runtimeError } from '../runtime-error.js';
import { RuntimeEventHub } from '../runtime-event-hub.js';
import { runtimeStatsFromDocker } from './container-stats.js';
import { parseDockerRuntimeOptions, type DockerRuntimeOptions } from './docker-runtime-options.js';
import { dockerFix, dockerMessage, dockerStatusCode, isDockerNotFound } from './docker-error.js';
import { runDockerExec } from './docker-exec.js';
import { CONTAINER_LABEL, POOL_LABEL } from './docker-labels.js';
import { DockerLifecycleEvents } from './docker-lifecycle-events.js';
import { RunNetworks } from './docker-networks.js';
import { newDockerClient } from './docker-client.js';
import { reapDockerLeftovers } from './docker-reaper.js';
import { hardenedContainerOptions, type HardeningLimits } from './hardened-container-options.js';
import { imageLayoutFromInspect, type ImageLayout } from './image-layout.js';
import { runtimeStateFromInspect } from './runtime-state-from-inspect.js';
import { replaceGuardArgv, type DockerWarmMember } from './docker-warm-members.js';

/** Budget of the exec that replaces a warm member's guard (waits up to 5 s for the old one to exit). */
const REPLACE_GUARD_TIMEOUT_MS = 15_000;

interface ManagedContainer {
  spec: ContainerSpec;
  ctx: StartContext;
  /** Undefined after a recreate that removed the old container but could not create the new one. */
  dockerId: string | undefined;
  networkName: string;
}

export type { DockerRuntimeOptions } from './docker-runtime-options.js';

/**
 * Runs each pool container as a hardened Docker container (see hardened-container-options.ts) from the image
 * built by docker/build-image.sh. Containers carry pool/run/container labels so a later run can reap what a
 * crashed one left; all containers of one run share a bridge network with inter-container traffic disabled.
 * Deaths reach `onEvent` listeners through the Docker events stream; deaths this runtime causes itself (stop,
 * restart, recreate) are not reported, so listeners only hear about failures.
 */
export class DockerRuntime implements ContainerRuntime, AsyncDisposable {
  readonly kind = 'docker' as const;
  readonly limitations: readonly string[] = [];

  private readonly docker: Docker;
  private readonly image: string;
  private readonly clock: Clock;
  private readonly limits: HardeningLimits;
  private readonly stopTimeoutSeconds: number;
  private readonly defaultExecTimeoutMs: number;
  private readonly serverArgs: readonly string[];
  private readonly warmIdleMs: number | undefined;
  /** Stamped on every container and network, so another run's reaping spares them while this process lives. */
  private readonly owner = currentRunOwner();

  private readonly bindAddress: string;
  private readonly advertisedHost: string | undefined;
  private readonly containers = new Map<string, ManagedContainer>();
  private readonly stopping = new Map<string, Promise<void>>();
  private readonly networks: RunNetworks;
  private readonly hub = new RuntimeEventHub();
  private readonly events: DockerLifecycleEvents;
  private layout: Promise<ImageLayout> | undefined;
  private closing: Promise<void> | undefined;

  constructor(input: DockerRuntimeOptions) {
    const options = parseDockerRuntimeOptions(input);
    const { image, clock, docker, socketPath, serverArgs, webmcp } = options;
    this.image = image;
    this.clock = clock;
    this.docker = docker ?? newDockerClient(socketPath ? { socketPath } : undefined);
    this.limits = {
      shmSizeMB: options.shmSizeMB,
      pidsLimit: options.pidsLimit,
      tmpSizeMB: options.tmpSizeMB,
      homeSizeMB: options.homeSizeMB,
      workdirSizeMB: options.workdirSizeMB,
    };
    this.stopTimeoutSeconds = options.stopTimeoutSeconds;
    this.defaultExecTimeoutMs = options.defaultExecTimeoutMs;
    this.bindAddress = options.bindAddress;
    this.advertisedHost = options.advertisedHost;
    this.warmIdleMs = options.warmIdleMs;
    this.serverArgs = [...mcpServerLifecycleArgs({ webmcp }), ...(serverArgs ?? [])];
    this.networks = new RunNetworks(this.docker, this.owner);
    this.events = new DockerLifecycleEvents({
      docker: this.docker,
      clock,
      hub: this.hub,
      containers: () => [...this.containers.values()].map((c) => ({ containerId: c.spec.id, dockerId: c.dockerId })),
      inspect: (id) => this.inspect(id),
    });
  }

  async reapLeftovers(ctx: RunContext): Promise<string[]> {
    this.events.rememberPool(ctx.poolId);
    return reapDockerLeftovers(this.docker, ctx);
  }

  async start(spec: ContainerSpec, ctx: StartContext): Promise<RuntimeContainerInfo> {
    this.assertOpen(spec.id, 'start');
    if (this.containers.has(spec.id)) {
      throw runtimeError('docker', { containerId: spec.id, stage: 'start', problem: 'it is already running in this runtime', fix: 'Use restart() or recreate(), or stop() it first.' });
    }
    this.events.rememberPool(ctx.poolId);
    // Registered before the first await, so a concurrent start of the same id is refused above.
    const entry: ManagedContainer = { spec, ctx, dockerId: undefined, networkName: '' };
    this.containers.set(spec.id, entry);
    try {
      // The image check comes first so a missing image leaves no network behind.
      await this.imageLayout(spec.id);
      entry.networkName = await this.networks.ensure(ctx, spec.id);
      entry.dockerId = await this.createAndStart(entry);
    } catch (error) {
      if (this.containers.get(spec.id) === entry) this.containers.delete(spec.id);
      throw error;
    }
    if (this.closing || this.containers.get(spec.id) !== entry) {
      // close() or stop() ran while the container was being made: they could not see it, so undo it here.
      this.containers.delete(spec.id);
      await this.removeContainer(spec.id, entry.dockerId);
      throw runtimeError('docker', { containerId: spec.id, stage: 'start', problem: 'it was stopped (or the runtime closed) while starting', fix: 'Start it again if still needed.' });
    }
    return this.info(entry);
  }

  /**
   * Takes over a container an earlier run left running (issue 13, warm pool): its guard is replaced by one on
   * this run's key (`ctx.guardKey`), since nobody holds the old run's private key any more. Throws (leaving the
   * container as it is) when it is not running or not this member's.
   */
  async adopt(spec: ContainerSpec, ctx: StartContext, warm: DockerWarmMember): Promise<RuntimeContainerInfo> {
    this.assertOpen(spec.id, 'adopt');
    if (this.containers.has(spec.id)) throw runtimeError('docker', { containerId: spec.id, stage: 'adopt', problem: 'it is already running in this runtime', fix: 'Stop it first.' });
    let running = false;
    try {
      const info = await this.docker.getContainer(warm.dockerId).inspect();
      running = info.State.Running === true && info.Config.Labels?.[CONTAINER_LABEL] === spec.id && info.Name.replace(/^\//, '') === spec.name;
    } catch (error) {
      if (!isDockerNotFound(error)) throw runtimeError('docker', { containerId: spec.id, stage: 'adopt (inspect)', cause: error, fix: dockerFix(error) });
    }
    if (!running) {
      throw runtimeError('docker', { containerId: spec.id, stage: 'adopt', problem: `the warm container ${warm.name} (${warm.dockerId.slice(0, 12)}) is gone, stopped or not this member's`, fix: 'Start it anew.' });
    }
    this.events.rememberPool(ctx.poolId);
    const entry: ManagedContainer = { spec, ctx, dockerId: warm.dockerId, networkName: warm.network };
    this.containers.set(spec.id, entry);
    try {
      await this.replaceGuard(entry);
    } catch (error) {
      if (this.containers.get(spec.id) === entry) this.containers.delete(spec.id);
      throw error;
    }
    return this.info(entry);
  }

  /**
   * Forgets every running member without stopping it, for the next run to take over (issue 13): each gets a
   * guard that stops it after `warmIdleMs` idle (one whose guard cannot be replaced is stopped instead), and
   * the network stays. Returns what a later run needs to adopt them; the runtime is closed afterwards.
   */
  async detach(): Promise<DockerWarmMember[]> {
    if (this.warmIdleMs === undefined) throw runtimeError('docker', { stage: 'detach', problem: 'this runtime keeps no warm members', fix: 'Create it with warmIdleMs.' });
    this.assertOpen('*', 'detach');
    this.closing = Promise.resolve();
    const members: DockerWarmMember[] = [];
    await Promise.all(
      [...this.containers.values()].map(async (entry) => {
        const dockerId = entry.dockerId;
        if (!dockerId) return;
        try {
          await this.replaceGuard(entry);
          members.push({ containerId: entry.spec.id, dockerId, name: entry.spec.name, port: entry.spec.port, network: entry.networkName });
          this.events.forget(dockerId);
        } catch {
          await this.removeContainer(entry.spec.id, dockerId).catch(() => undefined);
        }
      }),
    );
    this.containers.clear();
    this.events.close();
    this.hub.clear();
    return members.sort((a, b) => a.containerId.localeCompare(b.containerId));
  }

  /** docker/image's guard swapped for one on `entry.ctx`'s key with the idle stop (sh/replace-guard.sh). */
  private async replaceGuard(entry: ManagedContainer): Promise<void> {
    const { spec, ctx } = entry;
    const result = await this.exec(spec.id, replaceGuardArgv(ctx.guardKey(spec.id), this.warmIdleMs ?? 0), { timeoutMs: REPLACE_GUARD_TIMEOUT_MS });
    if (result.exitCode !== 0 || !/^GUARD \d+$/m.test(result.stdout)) {
      throw runtimeError('docker', {
        containerId: spec.id,
        stage: 'replace guard',
        problem: `exit ${result.exitCode}: ${(result.stdout + result.stderr).trim().split('\n').slice(-2).join(' ') || 'no output'}`,
        fix: 'Start it anew.',
      });
    }
  }

  stop(id: string): Promise<void> {
    const pending = this.stopping.get(id);
    if (pending) return pending;
    const entry = this.containers.get(id);
    if (!entry) return Promise.resolve();
    // Forget the container first: from now on its events are not ours and a second stop() is a no-op.
    this.containers.delete(id);
    const stopped = this.removeContainer(id, entry.dockerId).finally(() => this.stopping.delete(id));
    this.stopping.set(id, stopped);
    return stopped;
  }

  async restart(id: string): Promise<void> {
    const entry = this.require(id, 'restart');
    const dockerId = this.requireDockerId(entry, 'restart');
    this.events.expectExit(dockerId);
    try {
      await this.docker.getContainer(dockerId).restart({ t: this.stopTimeoutSeconds });
    } catch (error) {
      this.events.unexpectExit(dockerId);
      throw runtimeError('docker', { containerId: id, stage: 'restart', cause: error, fix: dockerFix(error, isDockerNotFound(error) ? 'The container no longer exists; use recreate().' : undefined) });
    }
  }

  async recreate(id: string): Promise<RuntimeContainerInfo> {
    const entry = this.require(id, 'recreate');
    this.assertOpen(id, 'recreate');
    const old = entry.dockerId;
    entry.dockerId = undefined;
    await this.removeContainer(id, old);
    entry.dockerId = await this.createAndStart(entry);
    return this.info(entry);
  }

  async inspect(id: string): Promise<RuntimeState> {
    const entry = this.require(id, 'inspect');
    if (!entry.dockerId) {
      return { running: false, health: 'none', reason: 'removed by recreate, and creating it again failed' };
    }
    try {
      return runtimeStateFromInspect(await this.docker.getContainer(entry.dockerId).inspect());
    } catch (error) {
      if (isDockerNotFound(error)) return { running: false, health: 'none', reason: 'container no longer exists (removed outside the pool)' };
      throw runtimeError('docker', { containerId: id, stage: 'inspect', cause: error, fix: dockerFix(error) });
    }
  }

  async exec(id: string, argv: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult> {
    const entry = this.require(id, 'exec');
    const dockerId = this.requireDockerId(entry, 'exec');
    const timeoutMs = options?.timeoutMs ?? this.defaultExecTimeoutMs;
    return runDockerExec({ docker: this.docker, clock: this.clock, containerId: id, dockerId, image: this.image, argv, timeoutMs });
  }

  async stats(id: string): Promise<RuntimeStats> {
    const entry = this.require(id, 'stats');
    const dockerId = this.requireDockerId(entry, 'stats');
    let raw: unknown;
    try {
      // Not one-shot: Docker then samples twice, a second apart, which is what the CPU percentage needs.
      raw = await this.docker.getContainer(dockerId).stats({ stream: false });
    } catch (error) {
      throw runtimeError('docker', { containerId: id, stage: 'stats', cause: error, fix: dockerFix(error) });
    }
    const stats = runtimeStatsFromDocker(raw);
    if (!stats) throw runtimeError('docker', { containerId: id, stage: 'stats', problem: 'the container is not running', fix: 'inspect() tells why.' });
    return stats;
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    const remove = this.hub.add(listener);
    this.events.sync();
    return () => {
      remove();
      this.events.sync();
    };
  }

  /** Resolves once every event subscription is live, so a death from now on is reported (used by tests). */
  eventsReady(): Promise<void> {
    return this.events.ready();
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async closeOnce(): Promise<void> {
    const failures: string[] = [];
    // Every step runs even when an earlier one fails: a half-closed runtime would leave containers behind.
    const stops = await Promise.allSettled([...this.containers.keys(), ...this.stopping.keys()].map((id) => this.stop(id)));
    for (const result of stops) if (result.status === 'rejected') failures.push(dockerMessage(result.reason));
    failures.push(...(await this.networks.removeAll()));
    this.events.close();
    this.hub.clear();
    if (failures.length > 0) {
      throw runtimeError('docker', {
                stage: 'close',
        problem: `it left something behind (${failures.join('; ')})`,
        fix: `Check with: docker ps -a --filter label=${POOL_LABEL}; docker network ls --filter label=${POOL_LABEL}.`,
        data: { failures },
      });
    }
  }

  private async createAndStart(entry: ManagedContainer): Promise<string> {
    const { spec, ctx, networkName } = entry;
    const layout = await this.imageLayout(spec.id);
    const options = hardenedContainerOptions({
      spec,
      ctx,
      image: this.image,
      networkName,
      layout,
      limits: this.limits,
      serverArgs: this.serverArgs,
      serverEnv: MCP_SERVER_LIFECYCLE_ENV,
      owner: this.owner,
      bindAddress: this.bindAddress,
      ...(this.advertisedHost ? { advertisedHost: this.advertisedHost } : {}),
    });
    // A warm member's guard must see no traffic when nobody uses it, or its idle stop never comes.
    if (this.warmIdleMs !== undefined) options.Healthcheck = { Test: ['NONE'] };

    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(options);
    } catch (error) {
      const status = dockerStatusCode(error);
      const fix =
        status === 404 ? `Image ${this.image} is missing: build it with \`npx cinnamon-pool image build\`.`
        : status === 409 ? `A container named ${spec.name} already exists outside this pool run: remove it (docker rm -f ${spec.name}) or choose another namePrefix.`
        : undefined;
      throw runtimeError('docker', { containerId: spec.id, stage: `create (${spec.name})`, cause: error, fix: dockerFix(error, fix) });
    }
    // Known before it starts, so its own 'start' event is recognised.
    entry.dockerId = container.id;
    try {
      await container.start();
    } catch (error) {
      // A failed start undoes itself: no half-made container stays behind.
      entry.dockerId = undefined;
      await container.remove({ force: true }).catch(() => undefined);
      const fix = /port is already allocated|address already in use/i.test(dockerMessage(error))
        ? `Host port ${spec.port} is in use: free it or give the pool other ports (basePort / containerSpecs).`
        : undefined;
      throw runtimeError('docker', { containerId: spec.id, stage: `start (${spec.name})`, cause: error, fix: dockerFix(error, fix) });
    }
    return container.id;
  }

  /** Stops and removes a container; missing or already stopped ones are fine. */
  private async removeContainer(id: string, dockerId: string | undefined): Promise<void> {
    if (!dockerId) return;
    this.events.expectExit(dockerId);
    const container = this.docker.getContainer(dockerId);
    // Removed at once (SIGKILL), with no graceful stop first: everything the server and its browser had lives in
    // the container and goes with it, and a graceful stop only made the end of every run wait for their exit.
    try {
      await container.remove({ force: true, v: true });
    } catch (error) {
      const status = dockerStatusCode(error);
      // 409: a removal is already in progress (e.g. a concurrent reap); the container is going away anyway.
      if (status !== 404 && status !== 409) {
        throw runtimeError('docker', { containerId: id, stage: 'remove', cause: error, fix: `Remove it by hand: docker rm -f ${dockerId.slice(0, 12)}.` });
      }
    } finally {
      this.events.forget(dockerId);
    }
  }

  private imageLayout(containerId: string): Promise<ImageLayout> {
    if (!this.layout) {
      this.layout = (async () => {
        let info: Docker.ImageInspectInfo;
        try {
          info = await this.docker.getImage(this.image).inspect();
        } catch (error) {
          const fix = isDockerNotFound(error) ? 'Build it with `npx cinnamon-pool image build` (it prints the tag to use).' : undefined;
          throw runtimeError('docker', { containerId, stage: `inspect image ${this.image}`, cause: error, fix: dockerFix(error, fix) });
        }
        try {
          return imageLayoutFromInspect(this.image, info.Config);
        } catch (error) {
          throw runtimeError('docker', { containerId, stage: 'image check', cause: error, fix: 'Use an image built from docker/Dockerfile (npx cinnamon-pool image build).' });
        }
      })();
      // Not cached on failure: the image may be built while the pool waits.
      this.layout.catch(() => (this.layout = undefined));
    }
    return this.layout;
  }

  private info(entry: ManagedContainer): RuntimeContainerInfo {
    return { id: entry.spec.id, name: entry.spec.name, port: entry.spec.port, runtimeId: entry.dockerId ?? '' };
  }

  private require(id: string, operation: string): ManagedContainer {
    const entry = this.containers.get(id);
    if (!entry) {
      throw runtimeError('docker', {
        containerId: id,
        stage: operation,
        problem: 'this runtime has not started it (or it was stopped)',
        fix: 'start() it first.',
        data: { reason: 'unknown-container' },
      });
    }
    return entry;
  }

  private requireDockerId(entry: ManagedContainer, operation: string): string {
    if (!entry.dockerId) {
      throw runtimeError('docker', { containerId: entry.spec.id, stage: operation, problem: 'its last recreate failed', fix: 'Call recreate() again.' });
    }
    return entry.dockerId;
  }

  private assertOpen(id: string, operation: string): void {
    if (this.closing) throw runtimeError('docker', { containerId: id, stage: operation, problem: 'the runtime is closed', fix: 'Create a new DockerRuntime.' });
  }
}
