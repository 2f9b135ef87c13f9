import { PoolError } from '../errors/pool-error.js';
import { API_PATHS } from '../protocol/api-paths.js';
import { executionBodySchema, extensionBodySchema } from '../protocol/coordinator-api.js';
import { exactPath, RouteGroup, type RequestContext, type Route } from './coordinator-route.js';
import { parseBody, readJson, sendJson } from './json-exchange.js';

/** Test timeouts over HTTP: extension requests, recorded executions, and the adaptive recommendation. */
export class TimeoutRoutes extends RouteGroup {
  routes(): Route[] {
    return [
      { method: 'POST', pattern: exactPath(API_PATHS.extensions), handler: (c) => this.extension(c) },
      { method: 'POST', pattern: exactPath(API_PATHS.executions), handler: (c) => this.execution(c) },
      { method: 'GET', pattern: exactPath(API_PATHS.recommendation), handler: (c) => this.recommendation(c) },
    ];
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
    this.deps.onExecutionRecorded?.(body.testId);
    res.writeHead(204).end();
  }

  private async recommendation({ res, url }: RequestContext): Promise<void> {
    const testId = url.searchParams.get('testId');
    if (testId !== null && (testId.length === 0 || testId.length > 2_000)) {
      throw new PoolError('INVALID_ARGUMENT', 'testId must be 1-2000 characters (omit it for the overall recommendation).', {});
    }
    sendJson(res, 200, await this.manager.recommendTimeout(testId ?? undefined));
  }
}
