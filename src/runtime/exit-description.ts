import { constants as osConstants } from 'node:os';

export interface ExitDescription {
  /** Docker's convention for a signal death: 128 + the signal number. */
  exitCode?: number;
  /** "exited with code 137 (killed by SIGKILL)": the signal is what tells a crash from a stop. */
  reason: string;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(osConstants.signals).map(([name, number]) => [number, name]));

/**
 * How a server ended, in the same words for both runtimes: from Docker's exit code (a signal death shows as
 * 128 + n) or from a child process's code and signal.
 */
export function describeExit(code: number | null | undefined, signal?: NodeJS.Signals | null): ExitDescription {
  let exitCode = code ?? undefined;
  if (signal) {
    const number = osConstants.signals[signal];
    exitCode = number === undefined ? undefined : 128 + number;
    return { exitCode, reason: `exited with code ${exitCode ?? '?'} (killed by ${signal})` };
  }
  if (exitCode === undefined) return { reason: 'exited' };
  const name = exitCode > 128 ? SIGNAL_NAMES.get(exitCode - 128) : undefined;
  return { exitCode, reason: `exited with code ${exitCode}${name ? ` (killed by ${name})` : ''}` };
}
