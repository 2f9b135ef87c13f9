import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { z } from 'zod';
import { backoffDelay } from '../../clock/backoff.js';
import type { Clock, TimerHandle } from '../../clock/clock.js';

export type ContainerAction = 'start' | 'die' | 'oom';

export interface ContainerEventMessage {
  action: ContainerAction;
  dockerId: string;
  /** Container labels and event attributes (Docker merges them into Actor.Attributes). */
  attributes: Record<string, string>;
  exitCode?: number;
}

export interface DockerEventStreamOptions {
  docker: Docker;
  clock: Clock;
  /** Docker `label` filters, all of which must match (e.g. `cinnamon-qa.pool=<id>`). */
  labels: string[];
  onEvent(event: ContainerEventMessage): void;
  /**
   * Called after the stream came back from a break. Docker forgets events across a daemon restart, so the owner
   * should compare its containers' state with what it last knew.
   */
  onReconnected(): void;
  /** Called when a connection attempt fails or the stream breaks; the stream retries on its own. */
  onBroken?(error: Error): void;
}

const eventSchema = z.object({
  Type: z.string().optional(),
  Action: z.string().optional(),
  status: z.string().optional(),
  id: z.string().optional(),
  Actor: z.object({ ID: z.string(), Attributes: z.record(z.string(), z.string()).nullish() }).loose().optional(),
  time: z.number().optional(),
  timeNano: z.number().optional(),
}).loose();

const ACTIONS = new Set<string>(['start', 'die', 'oom']);
const MIN_RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
/** A connection that lived this long was healthy: the next break retries quickly again. */
const STABLE_AFTER_MS = 5_000;
const SEEN_LIMIT = 2_000;

/**
 * A Docker events subscription (container start/die/oom, filtered by label) that survives stream ends and
 * daemon restarts: it reconnects with backoff, asks for events since the last one it saw, and drops the
 * duplicates that replay brings. Docker pushes events as they happen, so a death arrives within milliseconds.
 */
export class DockerEventStream {
  private stream: Readable | undefined;
  private abort: AbortController | undefined;
  private retryTimer: TimerHandle | undefined;
  /** Failed attempts since the last stable connection: the next retry waits backoffDelay of it. */
  private failures = 0;
  private connectedAt = 0;
  private closed = false;
  private everConnected = false;
  /** Whole seconds (Docker's `since` granularity) of the newest event seen, or of the subscription start. */
  private sinceSeconds: number;
  private readonly seen = new Set<string>();
  private readyPromise: Promise<void>;
  private resolveReady!: () => void;

  constructor(private readonly options: DockerEventStreamOptions) {
    this.sinceSeconds = Math.floor(options.clock.now() / 1000);
    this.readyPromise = new Promise((resolve) => (this.resolveReady = resolve));
    void this.connect();
  }

  /** Resolves once the daemon has accepted the first subscription (events from then on are delivered). */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) this.options.clock.clearTimeout(this.retryTimer);
    this.abort?.abort();
    this.stream?.destroy();
    this.stream = undefined;
    this.resolveReady();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const abort = new AbortController();
    this.abort = abort;
    let stream: Readable;
    try {
      stream = (await this.options.docker.getEvents({
        // `since` makes the daemon replay what happened while we were not listening (including the moment
        // between asking and being subscribed); duplicates are dropped below.
        since: this.sinceSeconds,
        filters: { type: ['container'], event: [...ACTIONS], label: this.options.labels },
        abortSignal: abort.signal,
      })) as unknown as Readable;
    } catch (error) {
      if (!this.closed) this.broken(error);
      return;
    }
    if (this.closed) {
      stream.destroy();
      return;
    }
    this.stream = stream;
    this.connectedAt = this.options.clock.monotonic();
    // An open subscription must not keep a finished test process alive; owners close it explicitly anyway.
    (stream as Readable & { socket?: { unref?: () => void } }).socket?.unref?.();
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.resolveReady();
    if (reconnected) this.options.onReconnected();

    let buffered = '';
    stream.on('data', (chunk: Buffer | string) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) this.handleLine(line);
      }
    });
    let ended = false;
    const onEnd = (error?: Error) => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) this.stream = undefined;
      if (!this.closed) this.broken(error ?? new Error('Docker events stream ended'));
    };
    stream.on('error', onEnd);
    stream.on('end', () => onEnd());
    stream.on('close', () => onEnd());
  }

  private handleLine(line: string): void {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return;
    }
    const parsed = eventSchema.safeParse(json);
    if (!parsed.success) return;
    const event = parsed.data;
    const action = event.Action ?? event.status ?? '';
    const dockerId = event.Actor?.ID ?? event.id;
    if (!ACTIONS.has(action) || !dockerId) return;

    const key = `${dockerId}:${action}:${event.timeNano ?? event.time ?? ''}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > SEEN_LIMIT) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    if (event.time !== undefined) this.sinceSeconds = Math.max(this.sinceSeconds, event.time);

    const attributes = event.Actor?.Attributes ?? {};
    const message: ContainerEventMessage = { action: action as ContainerAction, dockerId, attributes };
    const exitCode = Number(attributes.exitCode);
    if (attributes.exitCode !== undefined && Number.isFinite(exitCode)) message.exitCode = exitCode;
    try {
      this.options.onEvent(message);
    } catch {
      // A throwing listener must not break the subscription for the others.
    }
  }

  private broken(error: unknown): void {
    this.options.onBroken?.(error instanceof Error ? error : new Error(String(error)));
    if (this.everConnected && this.options.clock.monotonic() - this.connectedAt >= STABLE_AFTER_MS) {
      this.failures = 0;
    }
    const delay = backoffDelay(this.failures++, MIN_RETRY_MS, MAX_RETRY_MS);
    this.retryTimer = this.options.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }
}
