import Docker from 'dockerode';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import type { Clock, TimerHandle } from '../clock/clock.js';
import type { ContainerSpec } from '../config/pool-config.js';
import { parseOptions } from '../config/parse-options.js';
import { PoolError } from '../errors/pool-error.js';
import type {
  ContainerRuntime,
  ExecResult,
  RunContext,
  RuntimeContainerInfo,
  RuntimeEvent,
  RuntimeState,
  RuntimeStats,
} from './container-runtime.js';
import { runtimeStatsFromDocker } from './docker/container-stats.js';
import { dockerMessage, dockerStatusCode, isDockerNotFound, runtimeError } from './docker/docker-error.js';
import { DockerEventStream, type ContainerEventMessage } from './docker/docker-event-stream.js';
import { POOL_LABEL, RUN_LABEL, poolLabelFilter, runLabels } from './docker/docker-labels.js';
import { ExecOutput } from './docker/exec-output.js';
import { hardenedContainerOptions, type HardeningLimits } from './docker/hardened-container-options.js';
import { imageLayoutFromInspect, type ImageLayout } from './docker/image-layout.js';
import { MCP_SERVER_LIFECYCLE_ENV, mcpServerLifecycleArgs } from './mcp-server-command.js';
import { describeExit, runtimeStateFromInspect } from './docker/runtime-state-from-inspect.js';

/** @defaultValue 512 MB of /dev/shm per container (at least 256: Chromium renders through it). */
export const DEFAULT_SHM_SIZE_MB = 512;
/** @defaultValue 1024 processes + threads per container; Chromium uses about 150-250. */
export const DEFAULT_PIDS_LIMIT = 1024;
/** @defaultValue 512 MB: /tmp holds Chromium's per-session profiles. Counts against the memory limit. */
export const DEFAULT_TMP_SIZE_MB = 512;
/** @defaultValue 128 MB: HOME holds font and crash-report caches. */
export const DEFAULT_HOME_SIZE_MB = 128;
/** @defaultValue 256 MB: the working directory holds `.playwright-mcp/` snapshots and screenshots. */
export const DEFAULT_WORKDIR_SIZE_MB = 256;
/** @defaultValue 5 s between SIGTERM and SIGKILL on stop/restart (the server exits at once on SIGTERM). */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 5;
/** @defaultValue 30000 ms for an exec that names no timeout. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

/** The image must provide it (docker/image/mcp-exec): it adds MCP_SERVER_PID and enters MCP_WORKDIR. */
const EXEC_WRAPPER = 'mcp-exec';
/** How long a die event caused by our own stop/restart/recreate is expected before the mark is dropped. */
const EXPECTED_EXIT_WINDOW_MS = 15_000;
/** Extra wait beyond an exec's own timeout (enforced inside by `timeout`) before the client gives up. */
const EXEC_CLIENT_GRACE_MS = 5_000;

const limitsSchema = z
  .object({
    shmSizeMB: z.number().int().min(256).max(16_384).default(DEFAULT_SHM_SIZE_MB),
    pidsLimit: z.number().int().min(64).max(65_536).default(DEFAULT_PIDS_LIMIT),
    tmpSizeMB: z.number().int().min(16).max(65_536).default(DEFAULT_TMP_SIZE_MB),
    homeSizeMB: z.number().int().min(16).max(65_536).default(DEFAULT_HOME_SIZE_MB),
    workdirSizeMB: z.number().int().min(16).max(65_536).default(DEFAULT_WORKDIR_SIZE_MB),
    stopTimeoutSeconds: z.number().int().min(0).max(300).default(DEFAULT_STOP_TIMEOUT_SECONDS),
    defaultExecTimeoutMs: z.number().int().positive().default(DEFAULT_EXEC_TIMEOUT_MS),
  })
  .strict();

export type DockerRuntimeLimits = z.input<typeof limitsSchema>;

export interface DockerRuntimeOptions extends DockerRuntimeLimits {
  /** Image to run, e.g. the tag printed by `npx cinnamon-pool image build`. */
  image: string;
  clock: Clock;
  /** A ready Docker client (remote hosts, tests). Default: dockerode's own (DOCKER_HOST, else the local socket). */
  docker?: Docker;
  /** Socket path of the local daemon when no client is given. @defaultValue '/var/run/docker.sock' */
  socketPath?: string;
  /** Extra `@playwright/mcp` CLI flags, after the pool's own (see mcpServerLifecycleArgs). @defaultValue none */
  serverArgs?: readonly string[];
  /** Expose tools pages register through WebMCP (`webmcp_*`); the pool option `mcpServer.webmcp`. @defaultValue false */
  webmcp?: boolean;
}

interface ManagedContainer {
  spec: ContainerSpec;
  ctx: RunContext;
  /** Undefined after a recreate that removed the old container but could not create the new one. */
  dockerId: string | undefined;
  networkName: string;
}

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

  private readonly containers = new Map<string, ManagedContainer>();
  private readonly stopping = new Map<string, Promise<void>>();
  /** Networks by pool+run; `created` is false when another runtime instance of the same run made it. */
  private readonly networks = new Map<string, Promise<{ name: string; created: boolean }>>();
  private readonly knownPools = new Set<string>();
  private readonly eventStreams = new Map<string, DockerEventStream>();
  private readonly listeners = new Set<(event: RuntimeEvent) => void>();
  private readonly expectedExits = new Map<string, TimerHandle>();
  private readonly reportedDead = new Set<string>();
  private readonly oomSeen = new Set<string>();
  private layout: Promise<ImageLayout> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: DockerRuntimeOptions) {
    const { image, clock, docker, socketPath, serverArgs, webmcp, ...limitInput } = options;
    const limits = parseOptions(limitsSchema, limitInput, 'DockerRuntime options');
    if (!image) throw new PoolError('INVALID_OPTIONS', 'DockerRuntime needs an image tag: run `npx cinnamon-pool image build` and pass the tag it prints.');
    this.image = image;
    this.clock = clock;
    this.docker = docker ?? new Docker(socketPath ? { socketPath } : undefined);
    this.limits = {
      shmSizeMB: limits.shmSizeMB,
      pidsLimit: limits.pidsLimit,
      tmpSizeMB: limits.tmpSizeMB,
      homeSizeMB: limits.homeSizeMB,
      workdirSizeMB: limits.workdirSizeMB,
    };
    this.stopTimeoutSeconds = limits.stopTimeoutSeconds;
    this.defaultExecTimeoutMs = limits.defaultExecTimeoutMs;
    this.serverArgs = [...mcpServerLifecycleArgs({ webmcp: webmcp ?? false }), ...(serverArgs ?? [])];
  }

  async reapLeftovers(ctx: RunContext): Promise<string[]> {
    this.rememberPool(ctx.poolId);
    const filters = { label: [poolLabelFilter(ctx.poolId)] };
    const removed: string[] = [];
    const failures: string[] = [];

    let leftovers: Docker.ContainerInfo[];
    try {
      leftovers = await this.docker.listContainers({ all: true, filters });
    } catch (error) {
      throw reapError(ctx.poolId, 'containers', error);
    }
    // Only other runs: reaping must never hit what this run has already started.
    for (const info of leftovers.filter((c) => c.Labels?.[RUN_LABEL] !== ctx.runId)) {
      const name = info.Names?.[0]?.replace(/^\//, '') ?? info.Id.slice(0, 12);
      try {
        await this.docker.getContainer(info.Id).remove({ force: true, v: true });
        removed.push(name);
      } catch (error) {
        if (isDockerNotFound(error)) continue;
        failures.push(`${name}: ${dockerMessage(error)}`);
      }
    }

    let networks: Docker.NetworkInspectInfo[];
    try {
      networks = await this.docker.listNetworks({ filters });
    } catch (error) {
      throw reapError(ctx.poolId, 'networks', error);
    }
    for (const network of networks.filter((n) => n.Labels?.[RUN_LABEL] !== ctx.runId)) {
      try {
        await this.docker.getNetwork(network.Id).remove();
        removed.push(network.Name);
      } catch (error) {
        if (isDockerNotFound(error)) continue;
        failures.push(`${network.Name}: ${dockerMessage(error)}`);
      }
    }

    if (failures.length > 0) {
      throw new PoolError(
        'RUNTIME_ERROR',
        `Docker runtime: could not remove leftovers of pool ${ctx.poolId} (${failures.join('; ')}). ` +
          `Remove them by hand: docker rm -f $(docker ps -aq --filter label=${poolLabelFilter(ctx.poolId)}).`,
        { poolId: ctx.poolId, operation: 'reapLeftovers', removed, failures },
      );
    }
    return removed;
  }

  async start(spec: ContainerSpec, ctx: RunContext): Promise<RuntimeContainerInfo> {
    this.assertOpen(spec.id, 'start');
    if (this.containers.has(spec.id)) {
      throw runtimeError(spec.id, 'start', undefined, 'It is already running in this runtime; use restart() or recreate(), or stop() it first.');
    }
    this.rememberPool(ctx.poolId);
    // Registered before the first await, so a concurrent start of the same id is refused above.
    const entry: ManagedContainer = { spec, ctx, dockerId: undefined, networkName: '' };
    this.containers.set(spec.id, entry);
    try {
      // The image check comes first so a missing image leaves no network behind.
      await this.imageLayout(spec.id);
      entry.networkName = await this.ensureNetwork(ctx, spec.id);
      entry.dockerId = await this.createAndStart(entry);
    } catch (error) {
      if (this.containers.get(spec.id) === entry) this.containers.delete(spec.id);
      throw error;
    }
    if (this.closing || this.containers.get(spec.id) !== entry) {
      // close() or stop() ran while the container was being made: they could not see it, so undo it here.
      this.containers.delete(spec.id);
      await this.removeContainer(spec.id, entry.dockerId);
      throw runtimeError(spec.id, 'start', undefined, 'It was stopped (or the runtime closed) while starting; start it again if still needed.');
    }
    return this.info(entry);
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
    this.expectExit(dockerId);
    try {
      await this.docker.getContainer(dockerId).restart({ t: this.stopTimeoutSeconds });
    } catch (error) {
      this.unexpectExit(dockerId);
      throw runtimeError(id, 'restart', error, isDockerNotFound(error) ? 'The container no longer exists; use recreate().' : undefined);
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
      throw runtimeError(id, 'inspect', error);
    }
  }

  async exec(id: string, argv: readonly string[], options?: { timeoutMs?: number }): Promise<ExecResult> {
    const entry = this.require(id, 'exec');
    const dockerId = this.requireDockerId(entry, 'exec');
    if (argv.length === 0) throw new PoolError('INVALID_ARGUMENT', `exec in container ${id} needs a command (argv is empty).`, { containerId: id });
    const timeoutMs = options?.timeoutMs ?? this.defaultExecTimeoutMs;
    const started = this.clock.monotonic();
    // `timeout` inside the container enforces the budget even if this process goes away; `-k 2` escalates to
    // SIGKILL for commands that ignore SIGTERM. Its process group also takes the command's children with it.
    const cmd = ['timeout', '-k', '2', `${(timeoutMs / 1000).toFixed(3)}s`, EXEC_WRAPPER, ...argv];

    let exec: Docker.Exec;
    let stream: Duplex;
    try {
      exec = await this.docker.getContainer(dockerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
      stream = await exec.start({ hijack: true, stdin: false });
    } catch (error) {
      throw runtimeError(id, `exec of ${JSON.stringify(argv[0])}`, error, 'Is the container running? inspect() tells why not.');
    }

    const output = new ExecOutput();
    await new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        stream.destroy();
        reject(
          runtimeError(id, `exec of ${JSON.stringify(argv[0])}`, undefined,
            `The Docker daemon did not end it within ${timeoutMs + EXEC_CLIENT_GRACE_MS} ms; check the daemon and the container.`,
            { timedOut: true }),
        );
      }, timeoutMs + EXEC_CLIENT_GRACE_MS);
      const finish = (error?: Error) => {
        this.clock.clearTimeout(timer);
        if (error) reject(runtimeError(id, `exec of ${JSON.stringify(argv[0])}`, error));
        else resolve();
      };
      stream.on('data', (chunk: Buffer) => output.push(chunk));
      stream.once('end', () => finish());
      stream.once('close', () => finish());
      stream.once('error', (error: Error) => finish(error));
    });

    const exitCode = await this.execExitCode(exec, id);
    const elapsed = this.clock.monotonic() - started;
    // 124: `timeout` fired (SIGTERM); 137: it had to SIGKILL. Only a timeout when the budget was really used up.
    if ((exitCode === 124 || exitCode === 137) && elapsed >= timeoutMs) {
      throw runtimeError(id, `exec of ${JSON.stringify(argv[0])}`, undefined,
        `It ran longer than its ${timeoutMs} ms budget and was killed; raise timeoutMs or make the command faster.`,
        { timedOut: true, exitCode, stdout: output.stdout, stderr: output.stderr });
    }
    if (exitCode === 127 && output.stderr.includes(EXEC_WRAPPER)) {
      throw runtimeError(id, 'exec', undefined,
        `The image ${this.image} has no ${EXEC_WRAPPER}; rebuild it with \`npx cinnamon-pool image build --force\` and use the tag it prints.`);
    }
    return { exitCode, stdout: output.stdout, stderr: output.stderr };
  }

  async stats(id: string): Promise<RuntimeStats> {
    const entry = this.require(id, 'stats');
    const dockerId = this.requireDockerId(entry, 'stats');
    let raw: unknown;
    try {
      // Not one-shot: Docker then samples twice, a second apart, which is what the CPU percentage needs.
      raw = await this.docker.getContainer(dockerId).stats({ stream: false });
    } catch (error) {
      throw runtimeError(id, 'stats', error);
    }
    const stats = runtimeStatsFromDocker(raw);
    if (!stats) throw runtimeError(id, 'stats', undefined, 'The container is not running; inspect() tells why.');
    return stats;
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    this.syncEventStreams();
    return () => {
      this.listeners.delete(listener);
      this.syncEventStreams();
    };
  }

  /** Resolves once every event subscription is live, so a death from now on is reported (used by tests). */
  async eventsReady(): Promise<void> {
    await Promise.all([...this.eventStreams.values()].map((stream) => stream.ready()));
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- lifecycle helpers ----

  private async closeOnce(): Promise<void> {
    const failures: string[] = [];
    // Every step runs even when an earlier one fails: a half-closed runtime would leave containers behind.
    const stops = await Promise.allSettled([...this.containers.keys(), ...this.stopping.keys()].map((id) => this.stop(id)));
    for (const result of stops) if (result.status === 'rejected') failures.push(dockerMessage(result.reason));

    for (const [key, pending] of this.networks) {
      try {
        const { name, created } = await pending;
        // A network this instance only joined belongs to the instance that made it (it may still use it).
        if (!created) continue;
        await this.docker.getNetwork(name).remove();
      } catch (error) {
        if (!isDockerNotFound(error)) failures.push(`network ${key}: ${dockerMessage(error)}`);
      }
    }
    this.networks.clear();

    for (const stream of this.eventStreams.values()) stream.close();
    this.eventStreams.clear();
    this.listeners.clear();
    for (const timer of this.expectedExits.values()) this.clock.clearTimeout(timer);
    this.expectedExits.clear();

    if (failures.length > 0) {
      throw new PoolError(
        'RUNTIME_ERROR',
        `Docker runtime: close left something behind (${failures.join('; ')}). ` +
          `Check with: docker ps -a --filter label=${POOL_LABEL}; docker network ls --filter label=${POOL_LABEL}.`,
        { operation: 'close', failures },
      );
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
    });

    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(options);
    } catch (error) {
      const status = dockerStatusCode(error);
      const fix =
        status === 404 ? `Image ${this.image} is missing: build it with \`npx cinnamon-pool image build\`.`
        : status === 409 ? `A container named ${spec.name} already exists outside this pool run: remove it (docker rm -f ${spec.name}) or choose another namePrefix.`
        : undefined;
      throw runtimeError(spec.id, `create (${spec.name})`, error, fix);
    }
    // Known before it starts, so its own 'start' event is recognised.
    entry.dockerId = container.id;
    try {
      await container.start();
    } catch (error) {
      // A failed start undoes itself: no half-made container stays behind.
      entry.dockerId = undefined;
      await container.remove({ force: true }).catch(() => undefined);
      const message = dockerMessage(error);
      const fix = /port is already allocated|address already in use/i.test(message)
        ? `Host port ${spec.port} is in use: free it or give the pool other ports (basePort / containerSpecs).`
        : undefined;
      throw runtimeError(spec.id, `start (${spec.name})`, error, fix);
    }
    return container.id;
  }

  /** Stops and removes a container; missing or already stopped ones are fine. */
  private async removeContainer(id: string, dockerId: string | undefined): Promise<void> {
    if (!dockerId) return;
    this.expectExit(dockerId);
    const container = this.docker.getContainer(dockerId);
    // A graceful stop first lets the server close its browser (removal alone would SIGKILL it). Its errors
    // (already stopped, already gone) do not matter: the forced removal below settles it either way.
    await container.stop({ t: this.stopTimeoutSeconds }).catch(() => undefined);
    try {
      await container.remove({ force: true, v: true });
    } catch (error) {
      const status = dockerStatusCode(error);
      // 409: a removal is already in progress (e.g. a concurrent reap); the container is going away anyway.
      if (status !== 404 && status !== 409) throw runtimeError(id, 'remove', error, `Remove it by hand: docker rm -f ${dockerId.slice(0, 12)}.`);
    } finally {
      this.reportedDead.delete(dockerId);
      this.oomSeen.delete(dockerId);
    }
  }

  private async ensureNetwork(ctx: RunContext, containerId: string): Promise<string> {
    const key = `${ctx.poolId}\u0000${ctx.runId}`;
    let pending = this.networks.get(key);
    if (!pending) {
      pending = this.createNetwork(ctx, containerId);
      // A failed creation is not remembered: the next start tries again.
      pending.catch(() => this.networks.delete(key));
      this.networks.set(key, pending);
    }
    return (await pending).name;
  }

  private async createNetwork(ctx: RunContext, containerId: string): Promise<{ name: string; created: boolean }> {
    const name = `cinnamon-qa-${ctx.poolId}-${ctx.runId}`.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 120);
    try {
      await this.docker.createNetwork({
        Name: name,
        CheckDuplicate: true,
        Driver: 'bridge',
        Labels: runLabels(ctx),
        // One network per run, but containers on it cannot talk to each other: a page in one browser must
        // not reach another test's MCP server. The host (host.docker.internal) stays reachable.
        Options: { 'com.docker.network.bridge.enable_icc': 'false' },
      });
    } catch (error) {
      // 409: this run's network exists already (another runtime instance of the same run); join it.
      if (dockerStatusCode(error) === 409) return { name, created: false };
      throw runtimeError(containerId, `create network ${name}`, error,
        'Docker may be out of address pools: remove unused networks (docker network prune).');
    }
    return { name, created: true };
  }

  private imageLayout(containerId: string): Promise<ImageLayout> {
    if (!this.layout) {
      this.layout = (async () => {
        let info: Docker.ImageInspectInfo;
        try {
          info = await this.docker.getImage(this.image).inspect();
        } catch (error) {
          throw runtimeError(containerId, `inspect image ${this.image}`, error,
            isDockerNotFound(error) ? `Build it with \`npx cinnamon-pool image build\` (it prints the tag to use).` : undefined);
        }
        try {
          return imageLayoutFromInspect(this.image, info.Config);
        } catch (error) {
          throw runtimeError(containerId, 'image check', error, 'Use an image built from docker/Dockerfile (npx cinnamon-pool image build).');
        }
      })();
      // Not cached on failure: the image may be built while the pool waits.
      this.layout.catch(() => (this.layout = undefined));
    }
    return this.layout;
  }

  // ---- events ----

  private rememberPool(poolId: string): void {
    this.knownPools.add(poolId);
    this.syncEventStreams();
  }

  /** One events subscription per pool while anyone listens, none otherwise. */
  private syncEventStreams(): void {
    if (this.closing) return;
    if (this.listeners.size === 0) {
      for (const stream of this.eventStreams.values()) stream.close();
      this.eventStreams.clear();
      return;
    }
    for (const poolId of this.knownPools) {
      if (this.eventStreams.has(poolId)) continue;
      this.eventStreams.set(
        poolId,
        new DockerEventStream({
          docker: this.docker,
          clock: this.clock,
          labels: [poolLabelFilter(poolId)],
          onEvent: (message) => this.handleDockerEvent(message),
          onReconnected: () => void this.reconcileAfterGap(),
        }),
      );
    }
  }

  private handleDockerEvent(message: ContainerEventMessage): void {
    const entry = [...this.containers.values()].find((c) => c.dockerId === message.dockerId);
    if (!entry) return;
    const containerId = entry.spec.id;
    const at = this.clock.now();
    switch (message.action) {
      case 'start':
        this.reportedDead.delete(message.dockerId);
        this.oomSeen.delete(message.dockerId);
        // A restart of a container that was already dead (the usual hard reset after a kill) emits no 'die':
        // the exit we expected will never come, and left in place it would swallow the next real death.
        this.unexpectExit(message.dockerId);
        this.emit({ type: 'started', containerId, at });
        break;
      case 'oom':
        // Often a renderer is killed and the container lives on; listeners decide whether to recycle it.
        this.oomSeen.add(message.dockerId);
        this.emit({ type: 'oom', containerId, at });
        break;
      case 'die': {
        if (this.expectedExits.has(message.dockerId)) {
          this.unexpectExit(message.dockerId);
          return;
        }
        if (this.reportedDead.has(message.dockerId)) return;
        this.reportedDead.add(message.dockerId);
        const base = message.exitCode === undefined ? 'exited' : describeExit(message.exitCode);
        const reason = this.oomSeen.has(message.dockerId) ? `${base} after running out of memory` : base;
        this.emit({ type: 'died', containerId, at, reason });
        break;
      }
    }
  }

  /** After the events stream broke, report deaths that happened while nobody was listening. */
  private async reconcileAfterGap(): Promise<void> {
    for (const entry of [...this.containers.values()]) {
      const dockerId = entry.dockerId;
      if (!dockerId || this.reportedDead.has(dockerId) || this.expectedExits.has(dockerId)) continue;
      let state: RuntimeState;
      try {
        state = await this.inspect(entry.spec.id);
      } catch {
        continue;
      }
      if (!state.running && entry.dockerId === dockerId && !this.reportedDead.has(dockerId)) {
        this.reportedDead.add(dockerId);
        this.emit({ type: 'died', containerId: entry.spec.id, at: this.clock.now(), reason: state.reason ?? 'not running' });
      }
    }
  }

  private emit(event: RuntimeEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // One failing listener must not keep the others from hearing about a death.
      }
    }
  }

  private expectExit(dockerId: string): void {
    this.unexpectExit(dockerId);
    this.expectedExits.set(dockerId, this.clock.setTimeout(() => this.expectedExits.delete(dockerId), EXPECTED_EXIT_WINDOW_MS));
  }

  private unexpectExit(dockerId: string): void {
    const timer = this.expectedExits.get(dockerId);
    if (timer) this.clock.clearTimeout(timer);
    this.expectedExits.delete(dockerId);
  }

  // ---- small helpers ----

  private async execExitCode(exec: Docker.Exec, id: string): Promise<number> {
    // The output stream can end a moment before the daemon records the exit code: ask again soon (5, 10,
    // 20, 40 ms, then every 50 ms), as every exec of a cleanup stage or reset waits on this.
    for (let attempt = 0; attempt < 25; attempt++) {
      let info: Docker.ExecInspectInfo;
      try {
        info = await exec.inspect();
      } catch (error) {
        throw runtimeError(id, 'exec (reading the exit code)', error);
      }
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(50, 5 * 2 ** attempt)));
    }
    throw runtimeError(id, 'exec', undefined, 'Its output ended but Docker reports it still running; retry the command.');
  }

  private info(entry: ManagedContainer): RuntimeContainerInfo {
    return { id: entry.spec.id, name: entry.spec.name, port: entry.spec.port, runtimeId: entry.dockerId ?? '' };
  }

  private require(id: string, operation: string): ManagedContainer {
    const entry = this.containers.get(id);
    if (!entry) {
      throw runtimeError(id, operation, undefined, 'This runtime has not started it (or it was stopped); start() it first.', { reason: 'unknown-container' });
    }
    return entry;
  }

  private requireDockerId(entry: ManagedContainer, operation: string): string {
    if (!entry.dockerId) {
      throw runtimeError(entry.spec.id, operation, undefined, 'Its last recreate failed; call recreate() again.');
    }
    return entry.dockerId;
  }

  private assertOpen(id: string, operation: string): void {
    if (this.closing) throw runtimeError(id, operation, undefined, 'The runtime is closed; create a new DockerRuntime.');
  }
}

function reapError(poolId: string, what: string, cause: unknown): PoolError {
  return new PoolError(
    'RUNTIME_ERROR',
    `Docker runtime: listing leftover ${what} of pool ${poolId} failed: ${dockerMessage(cause)}. ` +
      'Is the Docker daemon running and reachable (DOCKER_HOST or /var/run/docker.sock)?',
    { poolId, operation: 'reapLeftovers' },
    { cause },
  );
}
