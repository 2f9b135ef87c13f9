import { connect } from 'node:net';

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
