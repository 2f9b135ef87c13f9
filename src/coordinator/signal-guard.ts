/** Signals that end a run from outside: Ctrl-C, `kill`, a closed terminal. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * Listens for stop signals while the pool runs and calls `onSignal` once per signal. Listening at all
 * changes Node's default (exit at once, no cleanup), which is the point: whoever handles the signal must
 * then stop the pool and exit. `dispose()` restores the defaults.
 */
export class SignalGuard {
  private readonly listeners = new Map<StopSignal, () => void>();

  constructor(onSignal: (signal: StopSignal) => void, signals: readonly StopSignal[] = STOP_SIGNALS) {
    for (const signal of signals) {
      const listener = () => onSignal(signal);
      this.listeners.set(signal, listener);
      process.on(signal, listener);
    }
  }

  dispose(): void {
    for (const [signal, listener] of this.listeners) process.off(signal, listener);
    this.listeners.clear();
  }
}

/** The exit status a shell reports for a process ended by `signal` (128 + its number). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const)[signal];
}
