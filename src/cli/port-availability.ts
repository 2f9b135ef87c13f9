import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { PortRange, PortStatus } from './doctor-checks.js';

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

/** The kernel's range for outgoing connections' local ports (Linux); undefined where it cannot be read. */
export function ephemeralPorts(path = '/proc/sys/net/ipv4/ip_local_port_range'): PortRange | undefined {
  try {
    const [low, high] = readFileSync(path, 'latin1').trim().split(/\s+/).map(Number);
    return Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low! ? { low: low!, high: high! } : undefined;
  } catch {
    return undefined;
  }
}
