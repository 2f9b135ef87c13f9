import { createServer } from 'node:net';
import type { PortStatus } from './doctor-checks.js';

/**
 * Whether the pool could bind `port` on 127.0.0.1, found by binding it for a moment: a connect probe would
 * miss a port that is bound but not yet listening, and a bind is exactly what the MCP server (or Docker's
 * port publishing) will try.
 */
export function portStatus(port: number, host = '127.0.0.1'): Promise<PortStatus> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => resolve({ free: false, code: error.code ?? error.message }));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve({ free: true })));
  });
}
