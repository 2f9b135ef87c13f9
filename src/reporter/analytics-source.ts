import type { SystemAnalytics } from '../pool/analytics-types.js';
import type { AuditEvent } from '../store/pool-store.js';
import { parseAuditEvents, parseSystemAnalytics } from './analytics-schema.js';
import { readAnalyticsSnapshot } from './analytics-snapshot.js';

/** Environment the coordinator hands to workers (and, being set in the runner process, to reporters). */
export const POOL_URL_ENV = 'CINNAMON_POOL_URL';
export const POOL_TOKEN_ENV = 'CINNAMON_POOL_TOKEN';

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

export interface CoordinatorSourceOptions {
  url: string | undefined;
  token: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Asks a running coordinator: `GET /v1/analytics` and `GET /v1/audit` with the run's bearer token. */
export function coordinatorSource(options: CoordinatorSourceOptions): AnalyticsSource {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_COORDINATOR_TIMEOUT_MS;
  const get = async (base: string, path: string): Promise<unknown> => {
    const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
    const response = await doFetch(url, {
      headers: { authorization: `Bearer ${options.token ?? ''}`, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`coordinator ${url.href} answered ${response.status} ${response.statusText}`.trim());
    return response.json();
  };
  return {
    name: 'coordinator',
    async load() {
      if (!options.url) return undefined;
      const base = options.url;
      const [analytics, audit] = await Promise.all([get(base, 'v1/analytics'), get(base, 'v1/audit')]);
      return {
        analytics: parseSystemAnalytics(analytics, `coordinator ${base}`),
        audit: parseAuditEvents(audit, `coordinator ${base}`),
        origin: `coordinator ${base}`,
      };
    },
  };
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
  // fetch() hides the useful part (ECONNREFUSED, a timeout) in `cause`.
  const cause = (error as Error & { cause?: unknown }).cause;
  const causeText = cause instanceof Error ? cause.message : cause ? String(cause) : '';
  return causeText && !error.message.includes(causeText) ? `${error.message} (${causeText})` : error.message;
}
