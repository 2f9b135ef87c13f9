import type { AuditEvent, CounterName, StoreCounters } from './pool-store.js';
import {
  auditEventSchema,
  countersSchema,
  isCounterName,
  parseStoredJson,
  parseStoredValue,
  storedIntegerSchema,
  storedNumberSchema,
} from './record-schemas.js';
import { finite, invalidArgument, positiveInteger } from './redis-arguments.js';
import type { RedisScriptClient } from './redis-connection.js';
import type { RedisKeys } from './redis-keys.js';

/** What the Redis store keeps about the run rather than the pool: execution history, extensions, counters, audit. */
export class RedisRunRecords {
  constructor(
    private readonly client: RedisScriptClient,
    private readonly keys: RedisKeys,
    private readonly limits: { auditLimit: number; extensionTtlMs: number },
  ) {}

  async appendExecution(testId: string, durationMs: number, limit: number): Promise<void> {
    finite('durationMs', durationMs);
    positiveInteger('limit', limit);
    await this.client.run('append-execution', [this.keys.history(testId), this.keys.historyAll], [String(durationMs), limit], {
      operation: 'appendExecution',
    });
  }

  async getExecutions(testId?: string): Promise<number[]> {
    const key = this.keys.history(testId);
    const raw = await this.client.call('getExecutions', () => this.client.redis.lrange(key, 0, -1));
    return raw.map((value, i) => parseStoredValue(storedNumberSchema, value, 'duration', { prefix: this.keys.prefix, key, field: `index ${i}` }));
  }

  async claimExtension(testRunId: string, max: number): Promise<number> {
    finite('max', max);
    const [count] = await this.client.run('claim-extension', [this.keys.extensions(testRunId)], [max, this.limits.extensionTtlMs], {
      operation: 'claimExtension',
      testRunId,
    });
    return Number(count);
  }

  async getExtensionCount(testRunId: string): Promise<number> {
    const key = this.keys.extensions(testRunId);
    const raw = await this.client.call('getExtensionCount', () => this.client.redis.get(key));
    return raw === null ? 0 : parseStoredValue(storedIntegerSchema, raw, 'extension count', { prefix: this.keys.prefix, key });
  }

  async incrementCounter(name: CounterName, by = 1): Promise<void> {
    if (!isCounterName(name)) throw invalidArgument('counter name', name, 'a StoreCounters field');
    if (!Number.isSafeInteger(by)) throw invalidArgument('by', by, 'an integer');
    await this.client.call('incrementCounter', () => this.client.redis.hincrby(this.keys.counters, name, by));
  }

  async getCounters(): Promise<StoreCounters> {
    const raw = await this.client.call('getCounters', () => this.client.redis.hgetall(this.keys.counters));
    return parseStoredValue(countersSchema, raw, 'counters hash', { prefix: this.keys.prefix, key: this.keys.counters });
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const json = events.map((e) => JSON.stringify(e));
    await this.client.run('append-audit', [this.keys.audit], [this.limits.auditLimit, ...json], { operation: 'appendAudit' });
  }

  async listAudit(): Promise<AuditEvent[]> {
    const key = this.keys.audit;
    const raw = await this.client.call('listAudit', () => this.client.redis.lrange(key, 0, -1));
    return raw.map((value, i) => parseStoredJson(auditEventSchema, value, 'audit event', { prefix: this.keys.prefix, key, field: `index ${i}` }));
  }
}
