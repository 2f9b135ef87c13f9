import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock/clock.js';
import type { PoolStatus, SystemAnalytics } from '../pool/analytics-types.js';
import type { ContainerPoolManager } from '../pool/container-pool-manager.js';
import type { PoolLogger } from '../pool/pool-events.js';
import { API_PATHS, type LeaseAction } from '../protocol/api-paths.js';
import type { RuntimeKind } from '../runtime/container-runtime.js';
import type { AuditEvent } from '../store/pool-store.js';
import type { LeaseEventHub } from './lease-event-hub.js';
import type { PoolMetrics } from './pool-metrics.js';

/** What is left to read after the pool shut down: served until the process ends. */
export interface FinalSnapshot {
  status: PoolStatus;
  analytics: SystemAnalytics;
  audit: AuditEvent[];
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** The pattern's groups, URI-decoded. */
  params: string[];
}

export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  handler: (ctx: RequestContext) => Promise<void>;
  /** Still answered after freeze() (from the snapshot). */
  readable?: boolean;
}

/** What the route groups share with the server that wires them. */
export interface RouteDeps {
  manager: ContainerPoolManager;
  runtime: RuntimeKind;
  /** Members the pool hands out (told to workers in the info). */
  containers: number;
  clock: Clock;
  logger: PoolLogger;
  metrics: PoolMetrics;
  events: LeaseEventHub;
  /** The final snapshot once the server is frozen, else undefined. */
  snapshot: () => FinalSnapshot | undefined;
  onExecutionRecorded: ((testId: string) => void) | undefined;
}

/** A group of routes: the server's parts its handlers use, as fields. */
export abstract class RouteGroup {
  protected readonly manager: ContainerPoolManager;
  protected readonly runtime: RuntimeKind;
  protected readonly clock: Clock;
  protected readonly logger: PoolLogger;
  protected readonly metrics: PoolMetrics;
  protected readonly events: LeaseEventHub;

  constructor(protected readonly deps: RouteDeps) {
    this.manager = deps.manager;
    this.runtime = deps.runtime;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.metrics = deps.metrics;
    this.events = deps.events;
  }

  abstract routes(): Route[];
}

/** A route pattern that matches `path` exactly (one of API_PATHS). */
export function exactPath(path: string): RegExp {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped}$`);
}

/** A route pattern for one action on a lease (leasePath's shape); the lease id is its one group. */
export function leaseActionPath(action: LeaseAction): RegExp {
  return new RegExp(`^${API_PATHS.leases}/([^/]+)/${action}$`);
}
