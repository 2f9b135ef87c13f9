import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { SystemClock, type Clock } from '../clock/clock.js';
import { parseOptions } from '../config/parse-options.js';
import { parsePriority } from '../domain/priority.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import type { PoolStatus, SystemAnalytics } from '../pool/analytics-types.js';
import type { ContainerPoolManager } from '../pool/container-pool-manager.js';
import { adviseHandBack } from '../pool/hand-back-policy.js';
import { SILENT_LOGGER, type PoolLogger } from '../pool/pool-events.js';
import type { RuntimeKind } from '../runtime/container-runtime.js';
import type { AuditEvent } from '../store/pool-store.js';
import { isAuthorized, newRunToken } from './bearer-token.js';
import {
  allocateBodySchema,
  API_PREFIX,
  executionBodySchema,
  extensionBodySchema,
  renewBodySchema,
  resetBodySchema,
  tokenBodySchema,
  traceBodySchema,
  type AllocateResponse,
  type CoordinatorInfo,
  type ReleaseResponse,
  type RenewResponse,
  type TraceResponse,
} from './coordinator-protocol.js';
import { httpStatusOf } from './http-error-status.js';
import { LeaseEventHub } from './lease-event-hub.js';
import { PoolMetrics } from './pool-metrics.js';
import { formatStatusText } from './status-text.js';

/** @defaultValue 64 KiB: the largest request body accepted (the biggest real one is a justification). */
export const MAX_BODY_BYTES = 64 * 1024;

export interface CoordinatorOptions {
  manager: ContainerPoolManager;
  /** Where the containers run; told to workers with each allocation (appUrl needs it). */
  runtime: RuntimeKind;
  /** The bearer token every call must carry. @defaultValue a fresh random token */
  token?: string;
  /** @defaultValue '127.0.0.1': the API hands out containers, it must not be reachable from the network. */
  host?: string;
  /** @defaultValue 0 (a free port) */
  port?: number;
  clock?: Clock;
  logger?: PoolLogger;
  /** Told about every recorded execution (the embedded store's history file keeps the test ids). */
  onExecutionRecorded?: (testId: string) => void;
}

/** What is left to read after the pool shut down: served until the process ends. */
export interface FinalSnapshot {
  status: PoolStatus;
  analytics: SystemAnalytics;
  audit: AuditEvent[];
}

type Handler = (ctx: RequestContext) => Promise<void>;

interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
}

interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  handler: Handler;
  /** Still answered after freeze() (from the snapshot). */
  readable?: boolean;
}

/**
 * The ContainerPoolManager behind a small HTTP API on 127.0.0.1 (see coordinator-protocol.ts for the
 * routes). Workers of the run reach it with the URL and token that globalSetup puts in their environment.
 * A held `POST /v1/leases` is the queue: the response comes when the container is granted, and a client
 * that disconnects cancels its waiting request.
 */
export class RunningCoordinator implements AsyncDisposable {
  readonly url: string;
  readonly token: string;
  readonly metrics: PoolMetrics;
  private readonly manager: ContainerPoolManager;
  private readonly runtime: RuntimeKind;
  private readonly clock: Clock;
  private readonly logger: PoolLogger;
  private readonly events: LeaseEventHub;
  private readonly routes: Route[];
  private readonly onExecutionRecorded: ((testId: string) => void) | undefined;
  private snapshot: FinalSnapshot | undefined;
  private closing: Promise<void> | undefined;

  /** Use startCoordinator(). */
  constructor(
    private readonly server: Server,
    options: CoordinatorOptions & { token: string },
  ) {
    const address = server.address() as AddressInfo;
    this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    this.token = options.token;
    this.manager = options.manager;
    this.runtime = options.runtime;
    this.clock = options.clock ?? new SystemClock();
    this.logger = options.logger ?? SILENT_LOGGER;
    this.onExecutionRecorded = options.onExecutionRecorded;
    this.metrics = new PoolMetrics(this.manager, this.manager.store);
    this.events = new LeaseEventHub(this.manager);
    const lease = '([^/]+)';
    this.routes = [
      { method: 'GET', pattern: /^\/v1\/info$/, handler: (c) => this.info(c), readable: true },
      { method: 'POST', pattern: /^\/v1\/leases$/, handler: (c) => this.allocate(c) },
      { method: 'POST', pattern: new RegExp(`^/v1/leases/${lease}/renew$`), handler: (c) => this.renew(c) },
      { method: 'POST', pattern: new RegExp(`^/v1/leases/${lease}/release$`), handler: (c) => this.release(c) },
      { method: 'POST', pattern: new RegExp(`^/v1/leases/${lease}/reset$`), handler: (c) => this.reset(c) },
      { method: 'POST', pattern: new RegExp(`^/v1/leases/${lease}/trace$`), handler: (c) => this.trace(c) },
      { method: 'GET', pattern: new RegExp(`^/v1/leases/${lease}/events$`), handler: (c) => this.leaseEvents(c) },
      { method: 'POST', pattern: /^\/v1\/extensions$/, handler: (c) => this.extension(c) },
      { method: 'POST', pattern: /^\/v1\/executions$/, handler: (c) => this.execution(c) },
      { method: 'GET', pattern: /^\/v1\/timeouts\/recommendation$/, handler: (c) => this.recommendation(c) },
      { method: 'GET', pattern: /^\/v1\/status$/, handler: (c) => this.statusJson(c), readable: true },
      { method: 'GET', pattern: /^\/v1\/analytics$/, handler: (c) => this.analytics(c), readable: true },
      { method: 'GET', pattern: /^\/v1\/audit$/, handler: (c) => this.audit(c), readable: true },
      { method: 'GET', pattern: /^\/status$/, handler: (c) => this.statusHuman(c), readable: true },
      { method: 'GET', pattern: /^\/metrics$/, handler: (c) => this.prometheus(c), readable: true },
    ];
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res));
  }

  /**
   * After the pool shut down: state-changing calls answer POOL_SHUT_DOWN, reads answer from `snapshot`.
   * Playwright runs globalSetup's teardown before the reporters' onEnd, so this is how a reporter that
   * asks the coordinator at the very end still gets the run's figures.
   */
  freeze(snapshot: FinalSnapshot): void {
    this.snapshot = snapshot;
    this.events.close();
  }

  get frozen(): boolean {
    return this.snapshot !== undefined;
  }

  /** Stops listening and ends open connections (held allocations see their client vanish). Safe twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.events.close();
      this.metrics.close();
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeAllConnections();
      });
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Lets the process exit while the (frozen) server still listens. */
  unref(): void {
    this.server.unref();
  }

  // ---------------------------------------------------------------- dispatch

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://coordinator');
      if (!isAuthorized(req.headers.authorization, this.token)) {
        req.resume();
        throw new PoolError('UNAUTHORIZED', 'Missing or wrong bearer token: every coordinator call needs `Authorization: Bearer <CINNAMON_POOL_TOKEN>`.');
      }
      let pathMatched = false;
      for (const route of this.routes) {
        const match = route.pattern.exec(url.pathname);
        if (!match) continue;
        pathMatched = true;
        if (route.method !== req.method) continue;
        if (this.snapshot && !route.readable) {
          req.resume();
          throw new PoolError('POOL_SHUT_DOWN', 'The run is over and the pool has shut down; only status, analytics, audit and metrics are still served.');
        }
        await route.handler({ req, res, url, params: match.slice(1).map(decodeURIComponent) });
        return;
      }
      req.resume();
      throw new PoolError(
        'INVALID_ARGUMENT',
        pathMatched ? `${req.method} is not allowed on ${url.pathname}.` : `No coordinator endpoint ${req.method} ${url.pathname} (API ${API_PREFIX}).`,
        { method: req.method, path: url.pathname, status: pathMatched ? 405 : 404 },
      );
    } catch (error) {
      this.sendError(res, error);
    }
  }

  private sendError(res: ServerResponse, error: unknown): void {
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const poolError = isPoolError(error)
      ? error
      : new PoolError('RUNTIME_ERROR', `Coordinator error: ${error instanceof Error ? error.message : String(error)}`, {}, { cause: error });
    const status = typeof poolError.data.status === 'number' ? poolError.data.status : httpStatusOf(poolError.code);
    if (status >= 500 && !isPoolError(error)) this.logger.warn(poolError.message);
    const headers: Record<string, string> = {};
    if (status === 401) headers['www-authenticate'] = 'Bearer realm="cinnamon-pool"';
    sendJson(res, status, { error: poolError.toJSON() }, headers);
  }

  // ---------------------------------------------------------------- routes

  private async info({ res }: RequestContext): Promise<void> {
    const config = this.manager.config;
    const body: CoordinatorInfo = {
      apiVersion: 1,
      poolId: config.poolId,
      runId: this.manager.runId,
      runtime: this.runtime,
      containers: config.containers,
      leaseTtlMs: config.lease.ttlMs,
      leaseDebugTtlMs: Math.max(config.lease.ttlMs, config.lease.debugTtlMs),
      maxWaitTimeMs: this.manager.resources.settings.maxWaitTimeMs,
      final: this.frozen,
    };
    sendJson(res, 200, body);
  }

  private async allocate({ req, res }: RequestContext): Promise<void> {
    const raw = await readJson(req);
    try {
      // Priority first, so a wrong one gets INVALID_PRIORITY with the allowed values rather than a schema message.
      if (isRecord(raw) && raw.priority !== undefined) parsePriority(raw.priority);
      const body = parseBody(allocateBodySchema, raw, 'allocation request');
      // The held request is the place in the queue: a client that goes away gives it up.
      const controller = new AbortController();
      const onClose = () => {
        if (!res.writableEnded) controller.abort();
      };
      res.on('close', onClose);
      let allocation;
      try {
        allocation = await this.manager.allocateContainerAdvanced({ ...stripUndefined(body), signal: controller.signal });
      } finally {
        res.off('close', onClose);
      }
      if (controller.signal.aborted || res.destroyed) {
        // Granted while the client was leaving: hand the container straight back instead of letting it idle
        // until the lease expires.
        await this.manager.releaseContainer({ leaseId: allocation.lease.leaseId, token: allocation.lease.token }).catch((e: unknown) => {
          this.logger.warn(`release of an allocation nobody received (${allocation.lease.leaseId}): ${String(e)}`);
        });
        return;
      }
      const response: AllocateResponse = { allocation, runtime: this.runtime };
      sendJson(res, 200, response);
    } catch (error) {
      const code = isPoolError(error) ? error.code : 'UNKNOWN';
      if (code !== 'ALLOCATION_CANCELLED') this.metrics.countAllocationFailure(code);
      throw error;
    }
  }

  private async renew({ req, res, params }: RequestContext): Promise<void> {
    const body = parseBody(renewBodySchema, await readJson(req), 'renew request');
    const lease = await this.manager.renewLease({ leaseId: params[0]!, token: body.token }, body.ttlMs === undefined ? {} : { ttlMs: body.ttlMs });
    const [queue, containers] = await Promise.all([this.manager.store.listQueue(), this.manager.store.listContainers()]);
    const advice = adviseHandBack({
      lease,
      queue,
      containers,
      now: this.clock.now(),
      handBackAfterMs: this.manager.resources.settings.handBackAfterMs,
    });
    const response: RenewResponse = { lease, contended: advice.handBack, waiting: advice.waiting };
    sendJson(res, 200, response);
  }

  private async release({ req, res, params }: RequestContext): Promise<void> {
    const body = parseBody(tokenBodySchema, await readJson(req), 'release request');
    const result = await this.manager.releaseContainer({ leaseId: params[0]!, token: body.token });
    // Cleanup runs on after the answer; its outcome reaches the audit log and the metrics, not the holder.
    result.recycled.catch(() => undefined);
    const response: ReleaseResponse = { lease: result.lease, heldMs: result.heldMs };
    sendJson(res, 200, response);
  }

  private async reset({ req, res, params }: RequestContext): Promise<void> {
    const body = parseBody(resetBodySchema, await readJson(req), 'reset request');
    const result = await this.manager.resetLeased({ leaseId: params[0]!, token: body.token }, body.strategy);
    sendJson(res, 200, result);
  }

  private async trace({ req, res, params }: RequestContext): Promise<void> {
    const body = parseBody(traceBodySchema, await readJson(req), 'trace request');
    const files = await this.manager.readLeasedTrace({ leaseId: params[0]!, token: body.token }, body.trace, body.budgetMs);
    const response: TraceResponse = { files: files.map((f) => ({ name: f.name, base64: f.data.toString('base64') })) };
    sendJson(res, 200, response);
  }

  private async leaseEvents({ req, res, url, params }: RequestContext): Promise<void> {
    req.resume();
    const leaseId = params[0]!;
    const tokenText = url.searchParams.get('token');
    const token = tokenText !== null && /^\d+$/.test(tokenText) ? Number(tokenText) : NaN;
    if (!Number.isSafeInteger(token)) {
      throw new PoolError('INVALID_ARGUMENT', 'Lease events need the lease token: GET /v1/leases/<leaseId>/events?token=<token>.', { leaseId });
    }
    // Subscribe first, check second: an end between the two is then delivered, not lost.
    this.events.open(leaseId, res);
    try {
      const lease = await this.manager.store.getLease(leaseId);
      if (lease.token !== token) {
        this.events.endWithError(leaseId, res, { code: 'STALE_TOKEN', message: `Token ${token} does not hold lease ${leaseId}.` });
      }
    } catch (error) {
      const ended = await this.manager.store.getEndedLease(leaseId).catch(() => undefined);
      if (ended && ended.lease.token === token) {
        const { containerId } = ended.lease;
        this.events.sendAndEnd(
          res,
          ended.reason === 'revoked'
            ? { type: 'revoked', leaseId, containerId, reason: 'the container failed before this subscription' }
            : ended.reason === 'expired'
              ? { type: 'expired', leaseId, containerId }
              : { type: 'released', leaseId, containerId },
        );
        return;
      }
      const e = isPoolError(error) ? error : new PoolError('UNKNOWN_LEASE', `No lease ${leaseId}.`, { leaseId });
      this.events.endWithError(leaseId, res, { code: e.code, message: e.message });
    }
  }

  private async extension({ req, res }: RequestContext): Promise<void> {
    const body = parseBody(extensionBodySchema, await readJson(req), 'timeout extension request');
    const decision = await this.manager.requestTimeoutExtension(body.testRunId, body.justification, {
      ...(body.requestedMs !== undefined ? { requestedMs: body.requestedMs } : {}),
      ...(body.currentTimeoutMs !== undefined ? { currentTimeoutMs: body.currentTimeoutMs } : {}),
      ...(body.lease ? { lease: body.lease } : {}),
    });
    sendJson(res, 200, decision);
  }

  private async execution({ req, res }: RequestContext): Promise<void> {
    const body = parseBody(executionBodySchema, await readJson(req), 'execution record');
    await this.manager.recordExecution(body.testId, body.durationMs);
    this.onExecutionRecorded?.(body.testId);
    res.writeHead(204).end();
  }

  private async recommendation({ res, url }: RequestContext): Promise<void> {
    const testId = url.searchParams.get('testId');
    if (testId !== null && (testId.length === 0 || testId.length > 2_000)) {
      throw new PoolError('INVALID_ARGUMENT', 'testId must be 1-2000 characters (omit it for the overall recommendation).', {});
    }
    sendJson(res, 200, await this.manager.timeouts.recommend(testId ?? undefined));
  }

  private async statusJson({ res }: RequestContext): Promise<void> {
    sendJson(res, 200, this.snapshot?.status ?? (await this.manager.getPoolStatus()));
  }

  private async analytics({ res }: RequestContext): Promise<void> {
    sendJson(res, 200, this.snapshot?.analytics ?? (await this.manager.getSystemAnalytics()));
  }

  private async audit({ res }: RequestContext): Promise<void> {
    sendJson(res, 200, this.snapshot?.audit ?? (await this.manager.getAuditLog()));
  }

  private async statusHuman({ req, res, url }: RequestContext): Promise<void> {
    const status = this.snapshot?.status ?? (await this.manager.getPoolStatus());
    const wantsJson = url.searchParams.get('format') === 'json' || /application\/json/.test(req.headers.accept ?? '');
    if (wantsJson) {
      sendJson(res, 200, status);
      return;
    }
    const header = `cinnamon pool ${this.manager.config.poolId} (run ${this.manager.runId}, ${this.runtime} runtime${this.frozen ? ', finished' : ''})`;
    const text = formatStatusText(status, header, this.clock.now());
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(text);
  }

  private async prometheus({ res }: RequestContext): Promise<void> {
    const text = await this.metrics.render();
    res.writeHead(200, { 'content-type': this.metrics.contentType }).end(text);
  }
}

/** Starts the coordinator on a free port of 127.0.0.1 (unless told otherwise). */
export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 60_000, headersTimeout: 30_000 });
  // A held allocation can wait many minutes: no socket inactivity timeout (requestTimeout above still bounds
  // how long a client may take to *send* its request).
  server.setTimeout(0);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new RunningCoordinator(server, { ...options, token: options.token ?? newRunToken() });
}

// ---------------------------------------------------------------- helpers

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      throw new PoolError('INVALID_ARGUMENT', `Request body over ${MAX_BODY_BYTES} bytes; nothing was changed.`, { status: 413, limit: MAX_BODY_BYTES });
    }
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PoolError('INVALID_ARGUMENT', `Request body is not JSON (${error instanceof Error ? error.message : String(error)}); nothing was changed.`, {});
  }
}

/** Validates a body; a failure is INVALID_ARGUMENT naming each bad field, and the call changes nothing. */
function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  if (body === undefined) throw new PoolError('INVALID_ARGUMENT', `The ${what} needs a JSON body; nothing was changed.`, {});
  try {
    return parseOptions(schema, body, what);
  } catch (error) {
    if (isPoolError(error, 'INVALID_OPTIONS')) throw new PoolError('INVALID_ARGUMENT', error.message, { ...error.data });
    throw error;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
