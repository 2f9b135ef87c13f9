import type Docker from 'dockerode';
import type { Clock, TimerHandle } from '../../clock/clock.js';
import type { RuntimeState } from '../container-runtime.js';
import { describeExit } from '../exit-description.js';
import type { RuntimeEventHub } from '../runtime-event-hub.js';
import { DockerEventStream, type ContainerEventMessage } from './docker-event-stream.js';
import { poolLabelFilter } from './docker-labels.js';

/** How long a die event caused by our own stop/restart/recreate is expected before the mark is dropped. */
const EXPECTED_EXIT_WINDOW_MS = 15_000;

export interface WatchedContainer {
  containerId: string;
  /** Undefined while (re)creating. */
  dockerId: string | undefined;
}

export interface DockerLifecycleEventsOptions {
  docker: Docker;
  clock: Clock;
  hub: RuntimeEventHub;
  /** The runtime's containers now. */
  containers(): Iterable<WatchedContainer>;
  /** The runtime's inspect(), to find deaths missed while the events stream was down. */
  inspect(containerId: string): Promise<RuntimeState>;
}

/**
 * Turns Docker's container events into the runtime's: one events subscription per pool while anyone listens
 * (none otherwise); deaths the runtime causes itself (stop, restart, recreate: announced with expectExit) are
 * not reported, so listeners only hear about failures, each death once.
 */
export class DockerLifecycleEvents {
  private readonly pools = new Set<string>();
  private readonly streams = new Map<string, DockerEventStream>();
  private readonly expectedExits = new Map<string, TimerHandle>();
  private readonly reportedDead = new Set<string>();
  private readonly oomSeen = new Set<string>();
  private closed = false;

  constructor(private readonly options: DockerLifecycleEventsOptions) {}

  rememberPool(poolId: string): void {
    this.pools.add(poolId);
    this.sync();
  }

  /** Subscribes per known pool while the hub has listeners, unsubscribes when it has none. */
  sync(): void {
    if (this.closed) return;
    if (this.options.hub.size === 0) {
      for (const stream of this.streams.values()) stream.close();
      this.streams.clear();
      return;
    }
    for (const poolId of this.pools) {
      if (this.streams.has(poolId)) continue;
      this.streams.set(
        poolId,
        new DockerEventStream({
          docker: this.options.docker,
          clock: this.options.clock,
          labels: [poolLabelFilter(poolId)],
          onEvent: (message) => this.handle(message),
          onReconnected: () => void this.reconcileAfterGap(),
        }),
      );
    }
  }

  /** Resolves once every subscription is live, so a death from now on is reported. */
  async ready(): Promise<void> {
    await Promise.all([...this.streams.values()].map((stream) => stream.ready()));
  }

  /** The next exit of this container is ours (stop, restart, recreate): not a death to report. */
  expectExit(dockerId: string): void {
    this.unexpectExit(dockerId);
    const { clock } = this.options;
    this.expectedExits.set(dockerId, clock.setTimeout(() => this.expectedExits.delete(dockerId), EXPECTED_EXIT_WINDOW_MS));
  }

  unexpectExit(dockerId: string): void {
    const timer = this.expectedExits.get(dockerId);
    if (timer) this.options.clock.clearTimeout(timer);
    this.expectedExits.delete(dockerId);
  }

  /** The container is gone: forget what was seen of it. */
  forget(dockerId: string): void {
    this.reportedDead.delete(dockerId);
    this.oomSeen.delete(dockerId);
  }

  close(): void {
    this.closed = true;
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
    for (const timer of this.expectedExits.values()) this.options.clock.clearTimeout(timer);
    this.expectedExits.clear();
  }

  private handle(message: ContainerEventMessage): void {
    const watched = [...this.options.containers()].find((c) => c.dockerId === message.dockerId);
    if (!watched) return;
    const { containerId } = watched;
    const { hub, clock } = this.options;
    const at = clock.now();
    switch (message.action) {
      case 'start':
        this.forget(message.dockerId);
        // A restart of a container that was already dead (the usual hard reset after a kill) emits no 'die':
        // the exit we expected will never come, and left in place it would swallow the next real death.
        this.unexpectExit(message.dockerId);
        hub.emit({ type: 'started', containerId, at });
        break;
      case 'oom':
        // Often a renderer is killed and the container lives on; listeners decide whether to recycle it.
        this.oomSeen.add(message.dockerId);
        hub.emit({ type: 'oom', containerId, at });
        break;
      case 'die': {
        if (this.expectedExits.has(message.dockerId)) {
          this.unexpectExit(message.dockerId);
          return;
        }
        if (this.reportedDead.has(message.dockerId)) return;
        this.reportedDead.add(message.dockerId);
        const base = describeExit(message.exitCode).reason;
        const reason = this.oomSeen.has(message.dockerId) ? `${base} after running out of memory` : base;
        hub.emit({ type: 'died', containerId, at, reason });
        break;
      }
    }
  }

  /** After the events stream broke, report deaths that happened while nobody was listening. */
  private async reconcileAfterGap(): Promise<void> {
    for (const { containerId, dockerId } of [...this.options.containers()]) {
      if (!dockerId || this.reportedDead.has(dockerId) || this.expectedExits.has(dockerId)) continue;
      let state: RuntimeState;
      try {
        state = await this.options.inspect(containerId);
      } catch {
        continue;
      }
      const still = [...this.options.containers()].some((c) => c.containerId === containerId && c.dockerId === dockerId);
      if (!state.running && still && !this.reportedDead.has(dockerId)) {
        this.reportedDead.add(dockerId);
        this.options.hub.emit({ type: 'died', containerId, at: this.options.clock.now(), reason: state.reason ?? 'not running' });
      }
    }
  }
}
