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

/** The three-stage check (TCP → MCP initialize+ping → runtime state). */
export interface HealthGate {
  isContainerReady(port: number, containerId?: string, options?: { timeoutMs?: number }): Promise<HealthReport>;
}
