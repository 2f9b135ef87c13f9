import type { Clock, TimerHandle } from '../clock/clock.js';
import type { AuditEvent, PoolStore } from '../store/pool-store.js';
import type { PoolAuditEvent, PoolAuditRecord } from './audit-events.js';

export interface AuditLogOptions {
  /** Longest an event waits in memory before it is written. @defaultValue 100 ms */
  flushIntervalMs?: number;
  /**
   * A batch this large is written at once. Small batches keep each write short, so an allocation queued
   * behind one on the same connection is not held up. @defaultValue 32
   */
  maxBatch?: number;
  /** Called with every event as it is recorded (the coordinator streams them to pool-audit.jsonl). */
  onEvent?: (event: PoolAuditEvent) => void;
  onError?: (error: unknown) => void;
}

/**
 * Audit events (who, what, when, outcome) batched into the store: recording never adds a store round trip
 * to an allocation; the batch is written within flushIntervalMs, and on flush()/close().
 */
export class AuditLog {
  private buffer: AuditEvent[] = [];
  private timer: TimerHandle | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;

  constructor(
    private readonly store: PoolStore,
    private readonly clock: Clock,
    private readonly options: AuditLogOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.maxBatch = options.maxBatch ?? 32;
  }

  record(event: PoolAuditRecord): PoolAuditEvent {
    const full = { ...event, at: event.at ?? this.clock.now() } as PoolAuditEvent;
    this.buffer.push(full);
    this.options.onEvent?.(full);
    if (this.buffer.length >= this.maxBatch) {
      void this.flush();
      return full;
    }
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushIntervalMs);
    return full;
  }

  /** Writes everything recorded so far. Flushes run one after another, so events keep their order. */
  flush(): Promise<void> {
    if (this.timer) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.store.appendAudit(batch);
      } catch (error) {
        // Keep the events for the next flush rather than lose them; report once per failed flush.
        this.buffer = [...batch, ...this.buffer];
        this.options.onError?.(error);
      }
    });
    return this.flushing;
  }
}
