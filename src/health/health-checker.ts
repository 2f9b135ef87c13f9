import type { Clock } from '../clock/clock.js';
import { probeTcpPort } from '../runtime/port-probe.js';
import { sleepOn, withinBudget } from '../clock/clock-wait.js';
import { parseHealthCheckerOptions, type HealthCheckerConfig, type HealthCheckerOptions } from './health-checker-options.js';
import type { HealthCheckOptions, HealthGate, HealthReport, HealthStage, StageResult } from './health-gate.js';
import { describeMcpError, McpHandshakeRefused, mcpHandshake } from './mcp-handshake.js';

export { DEFAULT_REQUIRED_TOOLS, DEFAULT_TCP_HOST } from './health-checker-options.js';
export type { HealthCheckerOptions } from './health-checker-options.js';

/** First pause between TCP attempts; doubles up to the cap. A starting server needs about a second. */
const TCP_FIRST_DELAY_MS = 25;
const TCP_MAX_DELAY_MS = 100;
/** Cap of one connect attempt, so a black-holed port is retried rather than waited on. */
const TCP_ATTEMPT_MAX_MS = 1_000;
const MCP_FIRST_DELAY_MS = 50;
/**
 * Cap of one MCP handshake attempt. Seen with Docker: the first request to a container on a fresh network can
 * hang (accepted by the port proxy, never answered) while a new connection a moment later works; a capped
 * attempt followed by a retry costs seconds where one long wait would spend the whole budget.
 */
const MCP_ATTEMPT_MAX_MS = 2_500;
const MCP_MAX_DELAY_MS = 500;

/** A stage result with a one-line note of what was seen (attempts, tool count, why it was skipped). */
export interface CheckedStage extends StageResult {
  detail?: string;
}

export interface HealthCheckReport extends HealthReport {
  stages: CheckedStage[];
}

type StageOutcome = { ok: true; detail?: string } | { ok: false; error: string; detail?: string };

/**
 * The three-stage gate every container passes before a test gets it, in order, stopping at the first
 * failure: TCP (the port accepts connections, polled with backoff while the server starts), MCP (a real
 * Streamable HTTP session: initialize, ping, tools/list, then DELETE), runtime (the runtime says it runs and
 * is not unhealthy). Each stage gets `stageTimeoutMs`, all together `startupTimeoutMs` (or the call's
 * `timeoutMs`); a gate of a server that is `starting` lets each stage use what is left of the whole budget.
 */
export class HealthChecker implements HealthGate {
  private readonly stageTimeoutMs: number;
  private readonly startupTimeoutMs: number;
  private readonly clock: Clock;
  private readonly requiredTools: readonly string[];
  private readonly tcpHost: string;
  private readonly mcpUrl: (port: number) => URL;

  private readonly options: HealthCheckerConfig;

  /** Throws INVALID_OPTIONS naming the field when an option is bad (health-checker-options.ts). */
  constructor(options: HealthCheckerOptions = {}) {
    this.options = parseHealthCheckerOptions(options);
    this.stageTimeoutMs = this.options.config.stageTimeoutMs;
    this.startupTimeoutMs = this.options.config.startupTimeoutMs;
    this.clock = this.options.clock;
    this.requiredTools = this.options.requiredTools;
    this.tcpHost = this.options.tcpHost;
    this.mcpUrl = this.options.mcpUrl;
  }

  async isContainerReady(port: number, containerId?: string, options: HealthCheckOptions = {}): Promise<HealthCheckReport> {
    // SystemClock timers do not hold the event loop; without this a lone check in a script could let Node
    // exit during a backoff pause.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      return await this.check(port, containerId, options.timeoutMs ?? this.startupTimeoutMs, options.starting === true, options.signal);
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async check(port: number, containerId: string | undefined, totalBudgetMs: number, starting: boolean, signal: AbortSignal | undefined): Promise<HealthCheckReport> {
    const started = this.clock.monotonic();
    const overallDeadline = started + totalBudgetMs;
    const stages: CheckedStage[] = [];
    const plan: Array<[HealthStage, (deadline: number) => Promise<StageOutcome>]> = [
      ['tcp', (deadline) => this.tcpStage(port, containerId, deadline, signal)],
      ['mcp', (deadline) => this.mcpStage(port, containerId, deadline, signal)],
      ['runtime', (deadline) => this.runtimeStage(containerId, deadline)],
    ];
    let failedStage: HealthStage | undefined;
    for (const [stage, run] of plan) {
      const stageStart = this.clock.monotonic();
      const deadline = starting ? overallDeadline : Math.min(overallDeadline, stageStart + this.stageTimeoutMs);
      let outcome: StageOutcome;
      try {
        outcome = signal?.aborted ? stopped() : await run(deadline);
      } catch (error) {
        outcome = { ok: false, error: describeMcpError(error) };
      }
      const result: CheckedStage = { stage, ok: outcome.ok, durationMs: round(this.clock.monotonic() - stageStart) };
      if (!outcome.ok) result.error = outcome.error;
      if (outcome.detail) result.detail = outcome.detail;
      stages.push(result);
      if (!outcome.ok) {
        failedStage = stage;
        break;
      }
    }
    const report: HealthCheckReport = {
      port,
      ready: failedStage === undefined,
      stages,
      durationMs: round(this.clock.monotonic() - started),
    };
    if (containerId !== undefined) report.containerId = containerId;
    if (failedStage) report.failedStage = failedStage;
    return report;
  }

  private async tcpStage(port: number, containerId: string | undefined, deadline: number, signal: AbortSignal | undefined): Promise<StageOutcome> {
    let delay = TCP_FIRST_DELAY_MS;
    let lastCode = 'no attempt';
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return stopped();
      const left = deadline - this.clock.monotonic();
      if (left <= 0) {
        return { ok: false, error: `nothing accepted a connection on ${this.tcpHost}:${port} within the budget (${attempt - 1} attempts, last: ${lastCode})` };
      }
      const probe = await probeTcpPort(this.tcpHost, port, Math.min(left, TCP_ATTEMPT_MAX_MS));
      if (probe.open) return { ok: true, detail: `open after ${attempt} attempt${attempt > 1 ? 's' : ''}` };
      lastCode = probe.code;
      // A server that already died will never open its port: say so now instead of waiting out the budget.
      const gone = await this.deadReason(containerId, deadline);
      if (gone) return { ok: false, error: `nothing listens on ${this.tcpHost}:${port} (${lastCode}) and container ${containerId} is not running: ${gone}` };
      await sleepOn(this.clock, Math.min(delay, Math.max(0, deadline - this.clock.monotonic())));
      delay = Math.min(delay * 2, TCP_MAX_DELAY_MS);
    }
  }

  /** Why the container is not running, or undefined when it runs (or cannot be asked). */
  private async deadReason(containerId: string | undefined, deadline: number): Promise<string | undefined> {
    const runtime = this.options.runtime;
    if (!runtime || containerId === undefined) return undefined;
    try {
      const state = await withinBudget(this.clock, runtime.inspect(containerId), deadline - this.clock.monotonic(), () => new Error('inspect timed out'));
      return state.running ? undefined : state.reason ?? 'stopped';
    } catch {
      // Inspect trouble is the runtime stage's to report; here it only means "cannot tell yet".
      return undefined;
    }
  }

  private async mcpStage(port: number, containerId: string | undefined, deadline: number, signal: AbortSignal | undefined): Promise<StageOutcome> {
    const url = this.mcpUrl(port);
    let delay = MCP_FIRST_DELAY_MS;
    let lastError = 'no attempt';
    // Retried because an open port is not yet a serving server: Docker's port proxy accepts connections
    // before the server inside listens, and resets them.
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) return stopped();
      const left = deadline - this.clock.monotonic();
      if (left <= 0) return { ok: false, error: `no MCP answer from ${url.href} within the budget (${attempt - 1} attempts, last: ${lastError})` };
      try {
        const cap = Math.min(left, MCP_ATTEMPT_MAX_MS);
        const credential = containerId === undefined ? undefined : this.options.credentialFor?.(containerId);
        const result = await withinBudget(this.clock, mcpHandshake(url, this.requiredTools, cap, credential), cap, () => new Error(`timed out after ${round(cap)} ms`));
        const server = result.serverName ? `${result.serverName} ${result.serverVersion ?? ''}`.trim() : 'server';
        const terminate = result.terminateError ? `; session not terminated: ${result.terminateError}` : '';
        return { ok: true, detail: `${server}: initialize, ping, ${result.toolCount} tools${terminate}` };
      } catch (error) {
        lastError = describeMcpError(error);
        if (error instanceof McpHandshakeRefused) return { ok: false, error: `${url.href} refused the MCP handshake: ${lastError}` };
        // The port can still accept for a moment after the server died (a connection already queued):
        // a dead container will not answer, so stop retrying.
        const gone = await this.deadReason(containerId, deadline);
        if (gone) return { ok: false, error: `no MCP answer from ${url.href} (${lastError}) and container ${containerId} is not running: ${gone}` };
      }
      await sleepOn(this.clock, Math.min(delay, Math.max(0, deadline - this.clock.monotonic())));
      delay = Math.min(delay * 2, MCP_MAX_DELAY_MS);
    }
  }

  private async runtimeStage(containerId: string | undefined, deadline: number): Promise<StageOutcome> {
    const runtime = this.options.runtime;
    if (!runtime || containerId === undefined) {
      return { ok: true, detail: `skipped: no ${runtime ? 'containerId' : 'runtime'} given` };
    }
    const left = deadline - this.clock.monotonic();
    const state = await withinBudget(this.clock, runtime.inspect(containerId), left, () => new Error(`${runtime.kind} runtime did not answer inspect within ${round(left)} ms`));
    if (!state.running) return { ok: false, error: `${runtime.kind} runtime reports container ${containerId} not running: ${state.reason ?? 'stopped'}` };
    if (state.health === 'unhealthy') return { ok: false, error: `${runtime.kind} runtime reports container ${containerId} running but its health check says unhealthy` };
    return { ok: true, detail: `running, health ${state.health}` };
  }
}

/** The check was stopped from outside (HealthCheckOptions.signal): not the member's fault. */
function stopped(): StageOutcome {
  return { ok: false, error: 'stopped: the check was called off (the pool is shutting down)' };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
