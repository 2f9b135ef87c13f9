import { PoolError } from '../errors/pool-error.js';
import type { HealthReport, HealthStage } from './health-gate.js';

export interface HealthGateErrorContext {
  /** Container name for the message (e.g. cinnamon-qa-mcp-1); the report's containerId otherwise. */
  containerName?: string;
}

/**
 * Turns a failed health report into the HEALTH_GATE_FAILED error the pool throws: which container, which
 * stage, why, and what to do about it.
 */
export function healthGateError(report: HealthReport, context: HealthGateErrorContext = {}): PoolError {
  const stage = report.failedStage ?? report.stages.find((s) => !s.ok)?.stage;
  if (report.ready || !stage) {
    return new PoolError('INVALID_ARGUMENT', `healthGateError was given a report that passed (port ${report.port}); only failed reports become errors`, {
      port: report.port,
    });
  }
  const failed = report.stages.find((s) => s.stage === stage);
  const who = [context.containerName, report.containerId].filter((v, i, all) => v !== undefined && all.indexOf(v) === i).join(' / ');
  const container = who ? `Container ${who} (port ${report.port})` : `The container on port ${report.port}`;
  const cause = (failed?.error ?? 'no reason recorded').replace(/[.\s]+$/, '');
  const message = `${container} failed the health gate at stage '${stage}' after ${Math.round(report.durationMs)} ms: ${cause}. Fix: ${fixFor(stage, report.port, cause)}`;
  return new PoolError('HEALTH_GATE_FAILED', message, {
    containerId: report.containerId,
    containerName: context.containerName,
    port: report.port,
    failedStage: stage,
    cause,
    stages: report.stages.map((s) => ({ ...s })),
  });
}

function fixFor(stage: HealthStage, port: number, cause: string): string {
  switch (stage) {
    case 'tcp':
      return (
        `make sure the server started and listens on ${port}: read its log (process runtime: server.log in its sandbox; ` +
        `docker: \`docker logs <name>\`), check no other program holds the port, or raise health.startupTimeoutMs / health.stageTimeoutMs on a slow machine.`
      );
    case 'mcp':
      if (/\b401\b/.test(cause)) {
        return `the member's guard refused the credential: the gate must sign with the pool's member credentials (HealthChecker credentialFor: (id) => credentials.forPool(id), the same MemberCredentials the pool started the member with).`;
      }
      if (/\b403\b/.test(cause)) {
        return `the server's Host check refused the request: connect as http://localhost:${port}/mcp, or start the server with --allowed-hosts listing the exact host:port.`;
      }
      if (/lacks/.test(cause)) {
        return 'the server is not a Playwright MCP server with browser tools (wrong image or @playwright/mcp version); check what listens on the port.';
      }
      return (
        `the port is open but the MCP server did not complete initialize / ping / tools/list at http://localhost:${port}/mcp: ` +
        'read the server log (a crash during browser set-up shows there), or raise health.stageTimeoutMs on a slow machine.'
      );
    case 'runtime':
      return (
        'the runtime reports the container not running or unhealthy: read its log; if it was OOM-killed raise ' +
        'resources.maxMemoryPerContainerMB. The pool recreates it on the next recovery.'
      );
  }
}
