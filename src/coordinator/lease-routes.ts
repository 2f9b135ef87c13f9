import { parsePriority } from '../domain/priority.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';
import { API_PATHS } from '../protocol/api-paths.js';
import {
  allocateBodySchema,
  renewBodySchema,
  resetBodySchema,
  tokenBodySchema,
  traceBodySchema,
  type AllocateResponse,
  type ReleaseResponse,
  type RenewResponse,
  type TraceResponse,
} from '../protocol/coordinator-api.js';
import { exactPath, leaseActionPath, RouteGroup, type RequestContext, type Route } from './coordinator-route.js';
import { isRecord, parseBody, readJson, sendJson, stripUndefined } from './json-exchange.js';

/**
 * The lease's life over HTTP: a held `POST /v1/leases` is the place in the queue (the answer comes with the
 * grant; a client that disconnects gives the place up), then renew, reset, trace, release, and the stream
 * that tells the holder its lease ended.
 */
export class LeaseRoutes extends RouteGroup {
  routes(): Route[] {
    return [
      { method: 'POST', pattern: exactPath(API_PATHS.leases), handler: (c) => this.allocate(c) },
      { method: 'POST', pattern: leaseActionPath('renew'), handler: (c) => this.renew(c) },
      { method: 'POST', pattern: leaseActionPath('release'), handler: (c) => this.release(c) },
      { method: 'POST', pattern: leaseActionPath('reset'), handler: (c) => this.reset(c) },
      { method: 'POST', pattern: leaseActionPath('trace'), handler: (c) => this.trace(c) },
      { method: 'GET', pattern: leaseActionPath('events'), handler: (c) => this.leaseEvents(c) },
    ];
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
    const advice = await this.manager.handBackAdvice(lease, this.clock.now());
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
      const lease = await this.manager.getLease(leaseId);
      if (lease.token !== token) {
        this.events.endWithError(leaseId, res, { code: 'STALE_TOKEN', message: `Token ${token} does not hold lease ${leaseId}.` });
      }
    } catch (error) {
      const ended = await this.manager.getEndedLease(leaseId).catch(() => undefined);
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
}
