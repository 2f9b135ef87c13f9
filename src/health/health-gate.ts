export type HealthStage = 'tcp' | 'mcp' | 'runtime';

export interface StageResult {
  stage: HealthStage;
  ok: boolean;
  durationMs: number;
  error?: string;
}

export interface HealthReport {
  containerId?: string;
  port: number;
  ready: boolean;
  /** The first stage that failed. */
  failedStage?: HealthStage;
  stages: StageResult[];
  durationMs: number;
}

export interface HealthCheckOptions {
  /** Budget of the whole check. @defaultValue health.startupTimeoutMs */
  timeoutMs?: number;
  /**
   * The server was just started (or restarted) and may still be loading: every stage may use what is left of
   * `timeoutMs` instead of `health.stageTimeoutMs`. On a loaded machine a Node server takes more than one
   * stage budget to answer its first request. @defaultValue false (a routine check of a running server)
   */
  starting?: boolean;
  /**
   * Ends the check early (the pool shuts down while a member is still starting): the report fails the stage in
   * progress with "stopped". @defaultValue none
   */
  signal?: AbortSignal;
}

/** The three-stage check (TCP → MCP initialize+ping → runtime state). */
export interface HealthGate {
  isContainerReady(port: number, containerId?: string, options?: HealthCheckOptions): Promise<HealthReport>;
}
