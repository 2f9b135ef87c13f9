import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { isPoolError } from '../errors/pool-error.js';
import type { SystemAnalytics } from '../pool/analytics-types.js';
import { POOL_TOKEN_ENV, POOL_URL_ENV } from '../protocol/env-names.js';
import { PoolClient } from '../protocol/pool-client.js';
import type { AuditEvent } from '../store/pool-store.js';
import { parseAuditEvents, parseSystemAnalytics } from './analytics-schema.js';
import { readAnalyticsSnapshot } from './analytics-snapshot.js';

/** How long one request to the coordinator may take before the source gives up. @defaultValue 5000 ms */
export const DEFAULT_COORDINATOR_TIMEOUT_MS = 5_000;

export interface PoolAnalyticsData {
  analytics: SystemAnalytics;
  audit: AuditEvent[];
  /** Where the data came from, for the summary line ("coordinator http://…", "snapshot file …"). */
  origin: string;
}

/**
 * One place the pool's analytics can come from. `load()` resolves undefined when this source does not apply
 * (no coordinator configured, no snapshot written) and rejects when it applies but fails, so that the caller
 * can tell "nothing there" from "something broken".
 */
export interface AnalyticsSource {
  readonly name: string;
  load(): Promise<PoolAnalyticsData | undefined>;
}

/**
 * The bearer token sent when none is known: the coordinator answers 401, which the source reports ("answered
 * 401") rather than failing before asking.
 */
export const NO_COORDINATOR_TOKEN = '';

export const coordinatorSourceOptionsSchema = z
  .object({
    /** The coordinator; unset or empty, the source does not apply. Checked as a URL when the source loads. */
    url: z.string().optional(),
    /** The run's bearer token. @defaultValue {@link NO_COORDINATOR_TOKEN} */
    token: z.string().default(NO_COORDINATOR_TOKEN),
    /** Budget of each request, ms. @defaultValue {@link DEFAULT_COORDINATOR_TIMEOUT_MS} */
    timeoutMs: z.number().int().positive().default(DEFAULT_COORDINATOR_TIMEOUT_MS),
  })
  .strict();
export type CoordinatorSourceOptions = z.input<typeof coordinatorSourceOptionsSchema>;
export type CoordinatorSourceConfig = z.output<typeof coordinatorSourceOptionsSchema>;

/** Validates and defaults coordinatorSource's options (INVALID_OPTIONS listing every bad field). */
export function parseCoordinatorSourceOptions(input: CoordinatorSourceOptions): CoordinatorSourceConfig {
  return parseOptions(coordinatorSourceOptionsSchema, input, 'coordinator source options');
}

/**
 * Asks a running coordinator through the protocol's PoolClient: `GET /v1/analytics` and `GET /v1/audit` with
 * the run's bearer token. The bodies are checked here (they come from another process, maybe another version).
 */
export function coordinatorSource(options: CoordinatorSourceOptions): AnalyticsSource {
  const config = parseCoordinatorSourceOptions(options);
  return {
    name: 'coordinator',
    async load() {
      if (!config.url) return undefined;
      const base = config.url;
      const client = new PoolClient({ url: base, token: config.token, requestTimeoutMs: config.timeoutMs });
      try {
        // Read as unknown: the client types the reply, the schemas below are what check it.
        const [analytics, audit] = await Promise.all<unknown>([client.analytics(), client.audit()]).catch((error: unknown) => {
          throw refusal(base, error);
        });
        return {
          analytics: parseSystemAnalytics(analytics, `coordinator ${base}`),
          audit: parseAuditEvents(audit, `coordinator ${base}`),
          origin: `coordinator ${base}`,
        };
      } finally {
        client.close();
      }
    },
  };
}

/** A refusal keeps its HTTP status in the message: "answered 401" is what a user looking at a skipped report needs. */
function refusal(base: string, error: unknown): unknown {
  const status = isPoolError(error) ? error.data.httpStatus : undefined;
  if (typeof status !== 'number') return error;
  return new Error(`coordinator ${base} answered ${status}: ${(error as Error).message}`, { cause: error });
}

/** The coordinator of this run, from the environment globalSetup set. */
export function coordinatorSourceFromEnv(env: NodeJS.ProcessEnv = process.env, options: Omit<CoordinatorSourceOptions, 'url' | 'token'> = {}): AnalyticsSource {
  return coordinatorSource({ ...options, url: env[POOL_URL_ENV], token: env[POOL_TOKEN_ENV] });
}

/**
 * The file the globalSetup teardown leaves behind (see analytics-snapshot.ts). The path is read at load time;
 * a snapshot written before `notBefore` (epoch ms) is a previous run's and does not count.
 */
export function snapshotFileSource(file: () => string | undefined, options: { notBefore?: number } = {}): AnalyticsSource {
  return {
    name: 'snapshot',
    async load() {
      const path = file();
      if (!path) return undefined;
      const snapshot = await readAnalyticsSnapshot(path);
      if (!snapshot) return undefined;
      if (options.notBefore !== undefined && snapshot.writtenAt < options.notBefore) {
        throw new Error(`${path} is from an earlier run (written ${new Date(snapshot.writtenAt).toISOString()})`);
      }
      return { analytics: snapshot.analytics, audit: snapshot.audit, origin: `snapshot ${path}` };
    },
  };
}

/** Data handed over in memory: what the reporter picked up from the analytics test's attachments. */
export class CapturedSource implements AnalyticsSource {
  readonly name = 'analytics test';
  private data: PoolAnalyticsData | undefined;

  capture(data: PoolAnalyticsData): void {
    this.data = data;
  }

  async load(): Promise<PoolAnalyticsData | undefined> {
    return this.data;
  }
}

export interface SourceAttempt {
  source: string;
  outcome: 'not available' | 'failed';
  error?: string;
}

/**
 * Tries the sources in order and returns the first that has data, with what happened to the ones before
 * it (printed when none works, so the user sees why the summary is missing).
 */
export async function loadFirstAvailable(sources: readonly AnalyticsSource[]): Promise<{ data: PoolAnalyticsData | undefined; attempts: SourceAttempt[] }> {
  const attempts: SourceAttempt[] = [];
  for (const source of sources) {
    try {
      const data = await source.load();
      if (data) return { data, attempts };
      attempts.push({ source: source.name, outcome: 'not available' });
    } catch (error) {
      attempts.push({ source: source.name, outcome: 'failed', error: describeError(error) });
    }
  }
  return { data: undefined, attempts };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // A wrapped error keeps the useful part (ECONNREFUSED, the server's own message) in `cause`.
  const cause = (error as Error & { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : cause ? String(cause) : '';
  return causeText && !error.message.includes(causeText) ? `${error.message} (${causeText})` : error.message;
}
