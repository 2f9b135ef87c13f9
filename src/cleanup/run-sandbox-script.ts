import type { Clock } from '../clock/clock.js';
import { withinBudget } from '../clock/clock-wait.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { parseScriptReport, type ScriptReport } from './script-report.js';

/** Extra time the runtime gets beyond the script's own budget to report a timeout itself. */
const RUNTIME_GRACE_MS = 2_000;

/**
 * True for an error that says the script used up its budget: the runtime's own timeout (both runtimes set
 * `data.timedOut`) or the backstop above.
 */
export function isScriptTimeout(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { timedOut?: unknown; data?: { timedOut?: unknown } };
  return e.timedOut === true || e.data?.timedOut === true;
}

export interface ScriptOutcome {
  exitCode: number;
  report: ScriptReport;
  stderr: string;
}

/**
 * Runs one sandbox script through `runtime.exec` with `timeoutMs` as its budget. The runtime enforces the
 * budget inside (Docker: `timeout`, process runtime: a kill of the process group); the timer here is only a
 * backstop for a runtime that stops answering (a wedged Docker daemon), so a cleanup can never hang.
 */
export async function runSandboxScript(
  runtime: ContainerRuntime,
  clock: Clock,
  containerId: string,
  argv: readonly string[],
  timeoutMs: number,
): Promise<ScriptOutcome> {
  const backstopMs = timeoutMs + RUNTIME_GRACE_MS;
  const result = await withinBudget(clock, runtime.exec(containerId, argv, { timeoutMs }), backstopMs, () =>
    Object.assign(new Error(`the ${runtime.kind} runtime did not answer within ${backstopMs} ms`), { timedOut: true }),
  );
  return { exitCode: result.exitCode, report: parseScriptReport(result.stdout), stderr: result.stderr.trim() };
}
