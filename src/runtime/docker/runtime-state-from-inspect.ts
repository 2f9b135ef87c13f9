import { z } from 'zod';
import type { RuntimeState } from '../container-runtime.js';
import { describeExit } from '../exit-description.js';

const inspectSchema = z.object({
  State: z
    .object({
      Running: z.boolean(),
      Paused: z.boolean().optional(),
      Restarting: z.boolean().optional(),
      OOMKilled: z.boolean().optional(),
      ExitCode: z.number().optional(),
      Error: z.string().optional(),
      Status: z.string().optional(),
      Health: z.object({ Status: z.string() }).loose().nullish(),
    })
    .loose(),
}).loose();

const HEALTH = new Set(['healthy', 'unhealthy', 'starting']);

/** The pool's view of `docker inspect`: running, HEALTHCHECK status, and a short reason when not usable. */
export function runtimeStateFromInspect(raw: unknown): RuntimeState {
  const parsed = inspectSchema.safeParse(raw);
  if (!parsed.success) {
    return { running: false, health: 'none', reason: `unreadable docker inspect answer (${parsed.error.issues[0]?.message})` };
  }
  const state = parsed.data.State;
  const healthStatus = state.Health?.Status;
  const health = healthStatus && HEALTH.has(healthStatus) ? (healthStatus as RuntimeState['health']) : 'none';
  // A paused container answers nothing, so for the pool it is not running.
  if (state.Running && !state.Paused) return { running: true, health };

  const result: RuntimeState = { running: false, health };
  if (state.ExitCode !== undefined && !state.Running) result.exitCode = state.ExitCode;
  if (state.Paused) result.reason = 'paused';
  else if (state.Restarting) result.reason = 'restarting';
  else if (state.OOMKilled) result.reason = 'OOM killed (memory limit reached)';
  else if (state.Error) result.reason = state.Error;
  else if (state.Status === 'created') result.reason = 'created but never started';
  else if (state.ExitCode !== undefined) result.reason = describeExit(state.ExitCode).reason;
  return result;
}
