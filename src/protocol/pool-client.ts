import { Agent, request as httpRequest } from 'node:http';
import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { PoolError } from '../errors/pool-error.js';
import type { ResetResult } from '../cleanup/cleanup-types.js';
import type { ResetStrategy } from '../config/schemas.js';
import type { PoolStatus, SystemAnalytics } from '../pool/analytics-types.js';
import type { LeaseRef } from '../pool/container-pool-manager.js';
import type { ExtensionDecision, TimeoutRecommendation } from '../pool/timeout-manager.js';
import type { AuditEvent } from '../store/pool-store.js';
import type {
  AllocateBody,
  AllocateResponse,
  CoordinatorInfo,
  ExtensionBody,
  LeaseEvent,
  ReleaseResponse,
  RenewBody,
  RenewResponse,
  TraceBody,
  TraceResponse,
} from './coordinator-api.js';
import { MAX_TRACE_BUDGET_MS, MIN_TRACE_BUDGET_MS } from './coordinator-api.js';
import { API_PATHS, leasePath } from './api-paths.js';
import { readBody, safeJson, toPoolError, unreachable } from './coordinator-reply.js';
import { POOL_TOKEN_ENV, POOL_URL_ENV } from './env-names.js';
import { openLeaseEventStream, type LeaseEventSubscription } from './lease-event-stream.js';
import { LeaseHeartbeat, type HeartbeatOptions } from './lease-heartbeat.js';

/** @defaultValue 30000 ms: budget of every call except allocate, reset and trace reads. */
export const DEFAULT_CLIENT_REQUEST_TIMEOUT_MS = 30_000;
/** A trace read's reply may come this long after the coordinator's read budget ends (zip, base64, transfer). */
const TRACE_REPLY_GRACE_MS = 5_000;

export const poolClientOptionsSchema = z
  .object({
    /** The coordinator, e.g. `http://127.0.0.1:40123`. */
    url: z.string().url(),
    /** The run's bearer token. */
    token: z.string(),
    /**
     * Budget of every call except allocate (which waits as long as the queue makes it), ms.
     * @defaultValue {@link DEFAULT_CLIENT_REQUEST_TIMEOUT_MS}
     */
    requestTimeoutMs: z.number().int().positive().default(DEFAULT_CLIENT_REQUEST_TIMEOUT_MS),
  })
  .strict();
export type PoolClientOptions = z.input<typeof poolClientOptionsSchema>;
export type PoolClientConfig = z.output<typeof poolClientOptionsSchema>;

/** Validates and defaults PoolClient's options (INVALID_OPTIONS listing every bad field). */
export function parsePoolClientOptions(input: PoolClientOptions): PoolClientConfig {
  return parseOptions(poolClientOptionsSchema, input, 'PoolClient options');
}

/** `budgetMs` rounded and kept within what the coordinator accepts for a trace read. */
export function clampTraceBudget(budgetMs: number): number {
  return Math.max(MIN_TRACE_BUDGET_MS, Math.min(MAX_TRACE_BUDGET_MS, Math.round(budgetMs)));
}

/**
 * The worker side of the coordinator API: typed calls over one keep-alive connection pool, errors rebuilt
 * as the PoolErrors the coordinator raised (same code, message and data).
 */
export class PoolClient {
  readonly url: URL;
  private readonly token: string;
  private readonly agent: Agent;
  /** Sockets of lease-event streams: kept apart, so an open stream never holds one of the calls' sockets. */
  private readonly streamAgent: Agent;
  private readonly requestTimeoutMs: number;

  constructor(options: PoolClientOptions) {
    const config = parsePoolClientOptions(options);
    this.url = new URL(config.url);
    this.token = config.token;
    this.requestTimeoutMs = config.requestTimeoutMs;
    // Keep-alive: a worker renews, reports and checks contention at every test boundary; reusing the socket
    // keeps each of those at a fraction of a millisecond on loopback.
    this.agent = new Agent({ keepAlive: true, maxSockets: 16 });
    this.streamAgent = new Agent({ keepAlive: true });
  }

  /** The client for the coordinator of this run, from the variables globalSetup set. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): PoolClient {
    const url = env[POOL_URL_ENV];
    const token = env[POOL_TOKEN_ENV];
    if (!url || !token) {
      throw new PoolError(
        'COORDINATOR_UNAVAILABLE',
        `${!url ? POOL_URL_ENV : POOL_TOKEN_ENV} is not set, so this worker cannot reach the container pool. ` +
          `The pool is started by globalSetup: wrap your config with withContainerPool(defineConfig(...), options) ` +
          `(or add globalSetup: '@cinnamon-qa/containers/global-setup' and metadata.cinnamonPool by hand).`,
        { missing: !url ? POOL_URL_ENV : POOL_TOKEN_ENV },
      );
    }
    return new PoolClient({ url, token });
  }

  info(): Promise<CoordinatorInfo> {
    return this.call('GET', API_PATHS.info);
  }

  /** Waits in the pool's queue until a container is granted. Aborting `signal` cancels the waiting request. */
  allocate(body: AllocateBody, options: { signal?: AbortSignal } = {}): Promise<AllocateResponse> {
    return this.call('POST', API_PATHS.leases, body, { timeoutMs: 0, ...(options.signal ? { signal: options.signal } : {}) });
  }

  /** `ttlMs`: ask for a longer lease than the pool's TTL (a worker being debugged), up to `info().leaseDebugTtlMs`. */
  renew(lease: LeaseRef, options: { ttlMs?: number } = {}): Promise<RenewResponse> {
    const body: RenewBody = { token: lease.token, ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}) };
    return this.call('POST', leasePath(lease.leaseId, 'renew'), body);
  }

  release(lease: LeaseRef): Promise<ReleaseResponse> {
    return this.call('POST', leasePath(lease.leaseId, 'release'), { token: lease.token });
  }

  /** Resets the leased container in place; a hard reset restarts its server, so reconnect MCP clients after. */
  reset(lease: LeaseRef, strategy: ResetStrategy): Promise<ResetResult> {
    // A hard or recovery reset restarts the server and re-gates it: minutes, not the default budget.
    return this.call('POST', leasePath(lease.leaseId, 'reset'), { token: lease.token, strategy }, { timeoutMs: 0 });
  }

  /** The files of a trace recorded in the leased container (see ContainerPoolManager.readLeasedTrace). */
  readTrace(lease: LeaseRef, trace: string, budgetMs: number): Promise<TraceResponse> {
    const body: TraceBody = { token: lease.token, trace, budgetMs: clampTraceBudget(budgetMs) };
    return this.call('POST', leasePath(lease.leaseId, 'trace'), body, { timeoutMs: body.budgetMs + TRACE_REPLY_GRACE_MS });
  }

  requestExtension(body: ExtensionBody): Promise<ExtensionDecision> {
    // Only the reference travels: a whole Lease object would be refused by the strict body schema.
    const { lease, ...rest } = body;
    return this.call('POST', API_PATHS.extensions, { ...rest, ...(lease ? { lease: { leaseId: lease.leaseId, token: lease.token } } : {}) });
  }

  async recordExecution(testId: string, durationMs: number): Promise<void> {
    await this.call('POST', API_PATHS.executions, { testId, durationMs });
  }

  recommendTimeout(testId?: string): Promise<TimeoutRecommendation> {
    return this.call('GET', `${API_PATHS.recommendation}${testId === undefined ? '' : `?testId=${encodeURIComponent(testId)}`}`);
  }

  status(): Promise<PoolStatus> {
    return this.call('GET', API_PATHS.status);
  }

  analytics(): Promise<SystemAnalytics> {
    return this.call('GET', API_PATHS.analytics);
  }

  audit(): Promise<AuditEvent[]> {
    return this.call('GET', API_PATHS.audit);
  }

  /** Prometheus text of `/metrics`. */
  async metrics(): Promise<string> {
    const { body } = await this.raw('GET', API_PATHS.metrics, undefined, {});
    return body;
  }

  /** Renews `lease` every `intervalMs` (default a third of its TTL) until stopped or lost; see LeaseHeartbeat. */
  startHeartbeat(lease: LeaseRef & { ttlMs: number }, options: HeartbeatOptions = {}): LeaseHeartbeat {
    return new LeaseHeartbeat(this, lease, options);
  }

  /**
   * Listens for the end of `lease` (server-sent events): `onEvent` gets 'revoked', 'expired' or 'released'
   * at most once. `onError` hears a stream that broke or was refused; the holder then relies on renew.
   */
  subscribeLeaseEvents(lease: LeaseRef, onEvent: (event: LeaseEvent) => void, onError: (error: PoolError) => void = () => {}): LeaseEventSubscription {
    return openLeaseEventStream({ url: this.url, token: this.token, agent: this.streamAgent }, lease, onEvent, onError);
  }

  /** Closes idle keep-alive sockets; in-flight calls finish. */
  close(): void {
    this.agent.destroy();
    this.streamAgent.destroy();
  }

  // ---------------------------------------------------------------- transport

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const { status, body: text } = await this.raw(method, path, body, options);
    if (status === 204) return undefined as T;
    const parsed = safeJson(text);
    if (parsed === undefined) {
      throw new PoolError('COORDINATOR_UNAVAILABLE', `The coordinator at ${this.url.origin} answered ${method} ${path} with something that is not JSON (status ${status}).`, {
        status,
      });
    }
    return parsed as T;
  }

  private raw(method: 'GET' | 'POST', path: string, body: unknown, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<{ status: number; body: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const attempt = (retry: boolean): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
        const req = httpRequest(new URL(path, this.url), {
          method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
          ...(options.signal ? { signal: options.signal } : {}),
        });
        let timer: NodeJS.Timeout | undefined;
        if (timeoutMs > 0) {
          timer = setTimeout(() => req.destroy(new PoolError('COORDINATOR_UNAVAILABLE', `The coordinator did not answer ${method} ${path} within ${timeoutMs} ms.`, { path })), timeoutMs);
        }
        req.on('response', (res) => {
          void readBody(res).then(
            (text) => {
              if (timer) clearTimeout(timer);
              const status = res.statusCode ?? 0;
              if (status >= 400) reject(toPoolError(status, text, `${method} ${path}`));
              else resolve({ status, body: text });
            },
            (error: unknown) => {
              if (timer) clearTimeout(timer);
              reject(unreachable(this.url, error));
            },
          );
        });
        req.on('error', (error: NodeJS.ErrnoException) => {
          if (timer) clearTimeout(timer);
          // The server may close an idle keep-alive socket just as it is reused: the request never arrived,
          // so sending it again is safe (Node's documented pattern for reusedSocket).
          if (retry && req.reusedSocket && error.code === 'ECONNRESET') {
            attempt(false).then(resolve, reject);
            return;
          }
          if (options.signal?.aborted) {
            reject(new PoolError('ALLOCATION_CANCELLED', `${method} ${path} was cancelled by the caller.`, { path }));
            return;
          }
          reject(error instanceof PoolError ? error : unreachable(this.url, error));
        });
        req.end(payload);
      });
    return attempt(true);
  }
}

