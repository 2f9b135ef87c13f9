import { join } from 'node:path';
import { z } from 'zod';
import { POOL_TOKEN_ENV, POOL_URL_ENV } from './env-names.js';

/**
 * Where a running pool leaves its coordinator's URL and token (mode 600), relative to the config's folder:
 * written by the run (coordinator/pool-run.ts), read by `cinnamon-pool status` from any folder of the project.
 */
export const COORDINATOR_FILE = join('.cinnamon-pool', 'coordinator.json');

/** The file's body. Unknown fields are dropped on reading: a newer run may write more. */
export const coordinatorFileSchema = z.object({
  url: z.string().url(),
  token: z.string().min(1),
  /** The runner process: a file whose process is gone is a stale one. */
  pid: z.number().int().positive().optional(),
  runId: z.string().optional(),
  startedAt: z.string().optional(),
});
export type CoordinatorFileBody = z.infer<typeof coordinatorFileSchema>;

/** How a user hands the coordinator over by hand, for messages: both variables' names. */
export const COORDINATOR_ENV_HINT = `${POOL_URL_ENV} and ${POOL_TOKEN_ENV}`;
