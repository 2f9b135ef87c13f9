import { createServer, type AddressInfo, type Server } from 'node:net';
import { ephemeralPorts, portStatus } from '../../src/cli/port-availability.js';

/** Ports the OS says are free right now on 127.0.0.1 (all held at once, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * The first of `count` consecutive ports free on every interface right now (a pool's basePort), below the
 * kernel's ephemeral range. Inside that range, any outgoing connection of the machine (a Redis client, a fetch)
 * can take one of them between this check and the member's listen, and the listen then fails EADDRINUSE; a port
 * the kernel picked with listen(0) is odd, the next one even, the parity it prefers for connect().
 */
export async function freePortRange(count: number): Promise<number> {
  return (await freePortRanges(count, 1))[0]!;
}

/** `ranges` bases of `count` consecutive free ports each (see freePortRange), no two overlapping. */
export async function freePortRanges(count: number, ranges: number): Promise<number[]> {
  const floor = ephemeralPorts()?.low ?? 32_768;
  const top = Math.max(20_000 + count, floor) - count;
  const bases: number[] = [];
  for (let attempt = 0; attempt < 50 * ranges && bases.length < ranges; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * Math.max(1, top - 20_000));
    if (bases.some((b) => Math.abs(b - base) < count)) continue;
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = (await portStatus(p, '0.0.0.0')).free;
    if (ok) bases.push(base);
  }
  if (bases.length < ranges) throw new Error(`no ${ranges} range(s) of ${count} consecutive free ports found between 20000 and ${top + count}`);
  return bases;
}
