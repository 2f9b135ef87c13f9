/**
 * One line of `cinnamon-pool doctor`. `warn` is something a run survives (auto falls back to the process
 * runtime, an image that the run can still build); only `fail` makes the exit code 1.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Short name: "Docker daemon", "Pool ports". */
  name: string;
  status: CheckStatus;
  /** What was found, one line. */
  detail: string;
  /** The exact command or setting that fixes a miss. */
  fix?: string;
}

const MARKS: Readonly<Record<CheckStatus, string>> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };

export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.flatMap((r) => {
    const head = `${MARKS[r.status]} ${r.name.padEnd(width)}  ${r.detail}`;
    return r.fix && (r.status === 'fail' || r.status === 'warn') ? [head, `  ${' '.repeat(width)}  fix: ${r.fix}`] : [head];
  });
  const failures = results.filter((r) => r.status === 'fail').length;
  const warnings = results.filter((r) => r.status === 'warn').length;
  const summary =
    failures > 0
      ? `${failures} problem${failures > 1 ? 's' : ''} to fix before a run${warnings ? `, ${warnings} warning${warnings > 1 ? 's' : ''}` : ''}.`
      : `Ready to run${warnings ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}.`;
  return `${lines.join('\n')}\n\n${summary}\n`;
}

export function hasFailures(results: readonly CheckResult[]): boolean {
  return results.some((r) => r.status === 'fail');
}
