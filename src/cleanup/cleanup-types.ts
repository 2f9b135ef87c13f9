import type { ResetStrategy } from '../config/schemas.js';

export const CLEANUP_STAGES = [
  'terminateBrowserProcesses',
  'clearTemporaryFiles',
  'clearCaches',
  'clearLogs',
  'resetEnvironment',
  'validateCleanup',
] as const;
export type CleanupStage = (typeof CLEANUP_STAGES)[number];

export interface CleanupStageResult {
  stage: CleanupStage;
  success: boolean;
  durationMs: number;
  error?: string;
  /**
   * The container could not run this stage's script: it used up its budget, or the container refused to start
   * processes (pids limit full, e.g. a fork bomb). The next stages are skipped; the pool restarts the container.
   */
  stuck?: boolean;
  /** validateCleanup only: MCP sessions (connections to the server port) still open at the end. */
  openSessions?: number;
}

export interface CleanupResult {
  containerId: string;
  success: boolean;
  durationMs: number;
  stages: CleanupStageResult[];
}

/** 'minimal' is the cheapest safe level used under degradation: browser processes, MCP output, validation. */
export type CleanupLevel = 'full' | 'minimal';

export interface ContainerCleaner {
  cleanup(containerId: string, level: CleanupLevel): Promise<CleanupResult>;
}

export interface ResetResult {
  containerId: string;
  requested: ResetStrategy;
  /** The strategy that finally succeeded (after escalation), if any. */
  applied?: ResetStrategy;
  success: boolean;
  durationMs: number;
  attempts: Array<{ strategy: ResetStrategy; success: boolean; durationMs: number; error?: string }>;
}

export interface ContainerResetter {
  /** Applies `strategy`, escalating soft → medium → hard → recovery on failure. */
  reset(containerId: string, strategy: ResetStrategy): Promise<ResetResult>;
}
