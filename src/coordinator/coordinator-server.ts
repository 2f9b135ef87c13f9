import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { SystemClock, type Clock } from '../clock/clock.js';
import { parseOptions } from '../config/parse-options.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import type { ContainerPoolManager } from '../pool/container-pool-manager.js';
import { SILENT_LOGGER, type PoolLogger } from '../pool/pool-events.js';
import { API_PREFIX } from '../protocol/coordinator-api.js';
import { POOL_TOKEN_ENV } from '../protocol/env-names.js';
import { httpStatusOf } from '../protocol/http-error-status.js';
import type { RuntimeKind } from '../runtime/container-runtime.js';
import { isAuthorized, newRunToken } from './bearer-token.js';
import type { FinalSnapshot, Route, RouteDeps } from './coordinator-route.js';
import { sendJson } from './json-exchange.js';
import { LeaseEventHub } from './lease-event-hub.js';
import { LeaseRoutes } from './lease-routes.js';
import { PoolMetrics } from './pool-metrics.js';
import { StatusRoutes } from './status-routes.js';
import { TimeoutRoutes } from './timeout-routes.js';
import { injected, callback } from '../config/injected.js';

export type { FinalSnapshot } from './coordinator-route.js';
export { MAX_BODY_BYTES } from './json-exchange.js';

/** @defaultValue '127.0.0.1': the API hands out containers, it must not be reachable from the network. */
export const DEFAULT_COORDINATOR_HOST = '127.0.0.1';
/** @defaultValue 0: a free port, chosen by the system. */
export const DEFAULT_COORDINATOR_PORT = 0;

const RUNTIME_KINDS = ['docker', 'process', 'fake'] as const satisfies readonly RuntimeKind[];

export const coordinatorOptionsSchema = z
  .object({
    manager: injected<ContainerPoolManager>('ContainerPoolManager'),
    /** Where the containers run; told to workers with each allocation (appUrl needs it). */
    runtime: z.enum(RUNTIME_KINDS),
    /** Members the pool hands out, told to workers in the info. @defaultValue the manager's config.containers (shared mode: the hosts' count) */
    containers: z.number().int().positive().optional(),
    /** The bearer token every call must carry. @defaultValue a fresh random token */
    token: z.string().min(1).default(() => newRunToken()),
    /** Address to listen on. @defaultValue {@link DEFAULT_COORDINATOR_HOST} */
    host: z.string().min(1).default(DEFAULT_COORDINATOR_HOST),
    /** Port to listen on. @defaultValue {@link DEFAULT_COORDINATOR_PORT} (a free port) */
    port: z.number().int().min(0).max(65_535).default(DEFAULT_COORDINATOR_PORT),
    /** @defaultValue SystemClock */
    clock: injected<Clock>('Clock').default(() => new SystemClock()),
    /** @defaultValue SILENT_LOGGER */
    logger: injected<PoolLogger>('PoolLogger').default(SILENT_LOGGER),
    /** Told about every recorded execution (the embedded store's history file keeps the test ids). */
    onExecutionRecorded: callback<(testId: string) => void>().optional(),
  })
  .strict();
export type CoordinatorOptions = z.input<typeof coordinatorOptionsSchema>;
export type CoordinatorConfig = z.output<typeof coordinatorOptionsSchema>;

/** Validates and defaults the coordinator's options (INVALID_OPTIONS listing every bad field). */
export function parseCoordinatorOptions(input: CoordinatorOptions): CoordinatorConfig {
  return parseOptions(coordinatorOptionsSchema, input, 'coordinator options');
}

/**
 * The ContainerPoolManager behind a small HTTP API on 127.0.0.1: this class authenticates, dispatches and turns
 * errors into answers; the routes live in status-routes.ts, lease-routes.ts and timeout-routes.ts, the bodies
 * in src/protocol/coordinator-api.ts. Workers of the run reach it with the URL and token that globalSetup puts
 * in their environment.
 * A held `POST /v1/leases` is the queue: the response comes when the container is granted, and a client
 * that disconnects cancels its waiting request.
 */
export class RunningCoordinator implements AsyncDisposable {
  readonly url: string;
  readonly token: string;
  readonly metrics: PoolMetrics;
  private readonly logger: PoolLogger;
  private readonly events: LeaseEventHub;
  private readonly routes: Route[];
  private snapshot: FinalSnapshot | undefined;
  private closing: Promise<void> | undefined;

  /** Use startCoordinator(). */
  constructor(
    private readonly server: Server,
    options: CoordinatorConfig,
  ) {
    const address = server.address() as AddressInfo;
    this.url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    this.token = options.token;
    this.logger = options.logger;
    this.metrics = new PoolMetrics(options.manager);
    this.events = new LeaseEventHub(options.manager);
    const deps: RouteDeps = {
      manager: options.manager,
      runtime: options.runtime,
      containers: options.containers ?? options.manager.config.containers,
      clock: options.clock,
      logger: this.logger,
      metrics: this.metrics,
      events: this.events,
      snapshot: () => this.snapshot,
      onExecutionRecorded: options.onExecutionRecorded,
    };
    this.routes = [...new StatusRoutes(deps).routes(), ...new LeaseRoutes(deps).routes(), ...new TimeoutRoutes(deps).routes()];
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
        throw new PoolError('UNAUTHORIZED', `Missing or wrong bearer token: every coordinator call needs \`Authorization: Bearer <${POOL_TOKEN_ENV}>\`.`);
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
}

/** Starts the coordinator on a free port of 127.0.0.1 (unless told otherwise). */
export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const config = parseCoordinatorOptions(options);
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 60_000, headersTimeout: 30_000 });
  // A held allocation can wait many minutes: no socket inactivity timeout (requestTimeout above still bounds
  // how long a client may take to *send* its request).
  server.setTimeout(0);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new RunningCoordinator(server, config);
}
