import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResetResult } from '../cleanup/cleanup-types.js';
import type { TraceFile } from '../cleanup/trace-files.js';
import type { ResetStrategy } from '../config/schemas.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { parseBody, readJson, sendJson } from '../coordinator/json-exchange.js';
import type { LeaseRef } from '../pool/lease-allocator.js';
import { AGENT_API_PATHS, agentResetBodySchema, agentTraceBodySchema, type AgentTraceResponse } from '../protocol/agent-api.js';
import { httpStatusOf } from '../protocol/http-error-status.js';
import { credentialDecision } from '../runtime/mcp-guard.js';
import type { Lease } from '../store/pool-store.js';

/** What the control server serves from: the agent's current epoch (undefined while fenced or not yet serving). */
export interface AgentControlTarget {
  /** The pool's public key (base64 DER SPKI): lease credentials are checked against it. */
  publicKey: string;
  /** This host's member ids. */
  members: ReadonlySet<string>;
  /** The active lease (the shared store): UNKNOWN_LEASE / LEASE_EXPIRED / ... once it ended. */
  getLease(leaseId: string): Promise<Lease>;
  resetLeased(ref: LeaseRef, strategy: ResetStrategy): Promise<ResetResult>;
  readLeasedTrace(ref: LeaseRef, traceName: string, budgetMs: number): Promise<TraceFile[]>;
}

export interface AgentControlServerOptions {
  /** Interface to listen on (the advertised address, or 0.0.0.0). */
  host: string;
  /** 0: any free port. */
  port: number;
  /** The address put in the URL (the advertised one). */
  advertise: string;
  hostId: string;
  /** The current target; undefined answers 503 (the agent is fenced or between epochs). */
  target: () => AgentControlTarget | undefined;
  /** A refused or failed call, for the agent's log. */
  onError?: (message: string) => void;
}

export interface AgentControlServer {
  /** `http://<advertise>:<port>`: HostRecord.controlUrl. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and ends open connections; idempotent. */
  close(): Promise<void>;
}

/**
 * The host agent's control endpoint (src/protocol/agent-api.ts): a holder's reset and trace reads for members of
 * this host, admitted only with the lease's credential (signed with the pool's key, naming the container, lease
 * and token of the body) for a lease the store still holds with that token.
 */
export async function startAgentControlServer(options: AgentControlServerOptions): Promise<AgentControlServer> {
  const server = createServer((req, res) => {
    void handle(req, res, options).catch((error: unknown) => fail(res, error, options));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${options.advertise}:${port}`,
    port,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: AgentControlServerOptions): Promise<void> {
  const path = (req.url ?? '').split('?')[0];
  const route = path === AGENT_API_PATHS.reset ? 'reset' : path === AGENT_API_PATHS.trace ? 'trace' : undefined;
  if (!route) throw new PoolError('INVALID_ARGUMENT', `No route ${req.method} ${path} on the agent of host ${options.hostId} (POST ${AGENT_API_PATHS.reset} or ${AGENT_API_PATHS.trace}).`, { status: 404 });
  if (req.method !== 'POST') throw new PoolError('INVALID_ARGUMENT', `${path} takes POST, not ${req.method}.`, { status: 405 });
  const raw = await readJson(req);
  const target = options.target();
  if (route === 'reset') {
    const body = parseBody(agentResetBodySchema, raw, 'reset request');
    const ref = await authorize(req.headers.authorization, body, serving(target, options.hostId), options.hostId);
    sendJson(res, 200, await serving(target, options.hostId).resetLeased(ref, body.strategy));
    return;
  }
  const body = parseBody(agentTraceBodySchema, raw, 'trace request');
  const ref = await authorize(req.headers.authorization, body, serving(target, options.hostId), options.hostId);
  const files = await serving(target, options.hostId).readLeasedTrace(ref, body.traceName, body.budgetMs);
  const reply: AgentTraceResponse = { files: files.map((f) => ({ name: f.name, base64: f.data.toString('base64') })) };
  sendJson(res, 200, reply);
}

function serving(target: AgentControlTarget | undefined, hostId: string): AgentControlTarget {
  if (target) return target;
  throw new PoolError('POOL_NOT_INITIALIZED', `The agent of host ${hostId} is not serving its members now (fenced or restarting); the lease's holder will hear how its lease ended.`, { hostId });
}

/** The credential names this container, lease and token and is signed with the pool's key; the store still holds that lease. */
async function authorize(authorization: string | undefined, body: { containerId: string; leaseId: string; token: number }, target: AgentControlTarget, hostId: string): Promise<LeaseRef> {
  const refuse = (why: string) => new PoolError('UNAUTHORIZED', `Agent of host ${hostId} refused the call for container ${body.containerId}: ${why}`, { containerId: body.containerId, leaseId: body.leaseId });
  // Floor 0: every lease token passes the guard's floor rule here; the store decides whether the lease is current.
  const decision = credentialDecision(target.publicKey, body.containerId, 0, authorization);
  if (!decision.admit) throw refuse(decision.why);
  const { claims } = decision;
  if (claims.r !== 'lease' || claims.l !== body.leaseId || claims.t !== body.token) {
    throw refuse(`the credential is not the one of lease ${body.leaseId} (token ${body.token}); send the lease's own credential (mcpContainer.headers)`);
  }
  if (!target.members.has(body.containerId)) {
    throw new PoolError('UNKNOWN_CONTAINER', `Container ${body.containerId} is not a member of host ${hostId}; ask the host named in its record.`, { containerId: body.containerId, hostId });
  }
  const lease = await target.getLease(body.leaseId);
  if (lease.containerId !== body.containerId) throw refuse(`lease ${body.leaseId} is on container ${lease.containerId}`);
  if (lease.token !== body.token) {
    throw new PoolError('STALE_TOKEN', `Lease ${body.leaseId} has token ${lease.token}, the call named ${body.token}: it is not the current holder.`, { leaseId: body.leaseId, containerId: body.containerId });
  }
  return { leaseId: body.leaseId, token: body.token };
}

function fail(res: ServerResponse, error: unknown, options: AgentControlServerOptions): void {
  const poolError = isPoolError(error) ? error : new PoolError('RUNTIME_ERROR', `Agent of host ${options.hostId}: ${error instanceof Error ? error.message : String(error)}`, {});
  const explicit = poolError.data.status;
  const status = typeof explicit === 'number' ? explicit : httpStatusOf(poolError.code);
  options.onError?.(`control ${status} ${poolError.code}: ${poolError.message}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: poolError.toJSON() }, status === 401 ? { 'www-authenticate': `Bearer realm="cinnamon-qa agent ${options.hostId}"` } : {});
}
