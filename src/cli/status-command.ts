import type { CoordinatorInfo } from '../protocol/coordinator-api.js';
import { formatStatusText } from '../coordinator/status-text.js';
import type { PoolStatus } from '../pool/analytics-types.js';

/** The two coordinator calls `status` needs; PoolClient in production, a fake in tests. */
export interface StatusSource {
  info(): Promise<CoordinatorInfo>;
  status(): Promise<PoolStatus>;
}

/**
 * What `cinnamon-pool status` prints: the same text as the coordinator's own `GET /status` (one formatter
 * for both, so they never disagree), or the raw `GET /v1/status` JSON for scripts.
 */
export async function renderStatus(source: StatusSource, options: { json: boolean; now?: number }): Promise<string> {
  const [info, status] = await Promise.all([source.info(), source.status()]);
  if (options.json) return `${JSON.stringify({ info, status }, null, 2)}\n`;
  const header = `cinnamon pool ${info.poolId} (run ${info.runId}${info.runGroup !== undefined ? ` of group ${info.runGroup}` : ''}, ${info.runtime} runtime${info.final ? ', finished' : ''})`;
  return formatStatusText(status, header, options.now ?? Date.now());
}
