import { z } from 'zod';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { parseOptions } from '../config/parse-options.js';
import type { AuditEvent, PoolStore } from '../store/pool-store.js';
import type { PoolAuditEvent, PoolAuditRecord } from './audit-events.js';
import { callback } from '../config/injected.js';

/** @defaultValue 100 ms: the longest an event waits in memory before it is written. */
export const DEFAULT_AUDIT_FLUSH_INTERVAL_MS = 100;
/** @defaultValue 32: the batch size written at once. */
export const DEFAULT_AUDIT_MAX_BATCH = 32;


export const auditLogOptionsSchema = z
  .object({
    /** Longest an event waits in memory before it is written, ms. @defaultValue {@link DEFAULT_AUDIT_FLUSH_INTERVAL_MS} */
    flushIntervalMs: z.number().int().positive().default(DEFAULT_AUDIT_FLUSH_INTERVAL_MS),
    /**
     * A batch this large is written at once. Small batches keep each write short, so an allocation queued
     * behind one on the same connection is not held up. @defaultValue {@link DEFAULT_AUDIT_MAX_BATCH}
     */
    maxBatch: z.number().int().positive().default(DEFAULT_AUDIT_MAX_BATCH),
    /** Called with every event as it is recorded (the coordinator streams them to pool-audit.jsonl). */
    onEvent: callback<(event: PoolAuditEvent) => void>().optional(),
    /** Called when a flush fails (the events are kept for the next one). */
    onError: callback<(error: unknown) => void>().optional(),
  })
  .strict();
export type AuditLogOptions = z.input<typeof auditLogOptionsSchema>;
export type AuditLogConfig = z.output<typeof auditLogOptionsSchema>;

/** Validates and defaults AuditLog's options (INVALID_OPTIONS listing every bad field). */
export function parseAuditLogOptions(input: AuditLogOptions | undefined): AuditLogConfig {
  return parseOptions(auditLogOptionsSchema, input, 'AuditLog options');
}

/**
 * Audit events (who, what, when, outcome) batched into the store: recording never adds a store round trip
 * to an allocation; the batch is written within flushIntervalMs, and on flush()/close().
 */
export class AuditLog {
  private buffer: AuditEvent[] = [];
  private timer: TimerHandle | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly options: AuditLogConfig;

  constructor(
    private readonly store: PoolStore,
    private readonly clock: Clock,
    options: AuditLogOptions = {},
  ) {
    this.options = parseAuditLogOptions(options);
  }

  record(event: PoolAuditRecord): PoolAuditEvent {
    const full = { ...event, at: event.at ?? this.clock.now() } as PoolAuditEvent;
    this.buffer.push(full);
    this.options.onEvent?.(full);
    if (this.buffer.length >= this.options.maxBatch) {
      void this.flush();
      return full;
    }
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.flushIntervalMs);
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
