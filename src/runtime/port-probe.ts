import { connect } from 'node:net';
import { backoffDelay } from '../clock/backoff.js';
import type { Clock } from '../clock/clock.js';
import { sleepOn } from '../clock/clock-wait.js';

export type PortProbeResult = { open: true } | { open: false; code: string };

/**
 * One TCP connect attempt. `code` says why it failed (ECONNREFUSED: nothing listens; ETIMEDOUT: no answer
 * within `timeoutMs`). The connection is closed at once, so the server sees only an empty connection.
 */
export function probeTcpPort(host: string, port: number, timeoutMs: number): Promise<PortProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (result: PortProbeResult): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(result);
    };
    // A plain timer, not the injected clock: it bounds one real socket operation.
    const timer = setTimeout(() => finish({ open: false, code: 'ETIMEDOUT' }), Math.max(1, timeoutMs));
    socket.once('connect', () => finish({ open: true }));
    socket.once('error', (error: NodeJS.ErrnoException) => finish({ open: false, code: error.code ?? error.message }));
  });
}

/**
 * True once nothing accepts connections on host:port any more, false when something still does after
 * `budgetMs`. Polls with a short backoff: a killed server's socket is usually gone within milliseconds, and a
 * zombie whose parent is gone can hold it until init reaps it.
 */
export async function waitForPortClosed(clock: Clock, host: string, port: number, budgetMs: number): Promise<boolean> {
  const deadline = clock.monotonic() + budgetMs;
  for (let attempt = 0; ; attempt++) {
    if (!(await probeTcpPort(host, port, PORT_CLOSED_PROBE_MS)).open) return true;
    const left = deadline - clock.monotonic();
    if (left <= 0) return false;
    await sleepOn(clock, Math.min(left, backoffDelay(attempt, 10, 100)));
  }
}

/** One connect attempt of waitForPortClosed: loopback answers (or refuses) in well under this. */
const PORT_CLOSED_PROBE_MS = 300;
