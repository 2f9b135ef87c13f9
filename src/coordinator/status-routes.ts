import { maxRenewalTtlMs } from '../pool/renewal-ttl.js';
import { API_PATHS } from '../protocol/api-paths.js';
import type { CoordinatorInfo } from '../protocol/coordinator-api.js';
import { exactPath, RouteGroup, type FinalSnapshot, type RequestContext, type Route } from './coordinator-route.js';
import { sendJson } from './json-exchange.js';
import { formatStatusText } from './status-text.js';

/**
 * What the pool looks like: info, status (JSON and text), analytics, audit and Prometheus metrics. Every one
 * is still answered after the run froze the server, from the final snapshot.
 */
export class StatusRoutes extends RouteGroup {
  routes(): Route[] {
    return [
      { method: 'GET', pattern: exactPath(API_PATHS.info), handler: (c) => this.info(c), readable: true },
      { method: 'GET', pattern: exactPath(API_PATHS.status), handler: (c) => this.statusJson(c), readable: true },
      { method: 'GET', pattern: exactPath(API_PATHS.analytics), handler: (c) => this.analytics(c), readable: true },
      { method: 'GET', pattern: exactPath(API_PATHS.audit), handler: (c) => this.audit(c), readable: true },
      { method: 'GET', pattern: exactPath(API_PATHS.statusText), handler: (c) => this.statusHuman(c), readable: true },
      { method: 'GET', pattern: exactPath(API_PATHS.metrics), handler: (c) => this.prometheus(c), readable: true },
    ];
  }

  private get snapshot(): FinalSnapshot | undefined {
    return this.deps.snapshot();
  }

  private get frozen(): boolean {
    return this.snapshot !== undefined;
  }

  private async info({ res }: RequestContext): Promise<void> {
    const config = this.manager.config;
    const body: CoordinatorInfo = {
      apiVersion: 1,
      poolId: config.poolId,
      runId: this.manager.runId,
      ...(config.runGroup !== undefined ? { runGroup: config.runGroup } : {}),
      runtime: this.runtime,
      containers: this.deps.containers,
      leaseTtlMs: config.lease.ttlMs,
      leaseDebugTtlMs: maxRenewalTtlMs(config.lease),
      maxWaitTimeMs: this.manager.resourceSettings().maxWaitTimeMs,
      final: this.frozen,
    };
    sendJson(res, 200, body);
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
    const { poolId, runGroup } = this.manager.config;
    const header = `cinnamon pool ${poolId} (run ${this.manager.runId}${runGroup !== undefined ? ` of group ${runGroup}` : ''}, ${this.runtime} runtime${this.frozen ? ', finished' : ''})`;
    const text = formatStatusText(status, header, this.clock.now());
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(text);
  }

  private async prometheus({ res }: RequestContext): Promise<void> {
    const text = await this.metrics.render();
    res.writeHead(200, { 'content-type': this.metrics.contentType }).end(text);
  }
}
