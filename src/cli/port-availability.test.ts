import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralPorts, portStatus } from './port-availability.js';

describe('portStatus', () => {
  let holder: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
    holder = undefined;
  });

  it('sees a port someone listens on as busy, and free again once released', async () => {
    holder = createServer();
    const port = await new Promise<number>((resolve) => holder?.listen(0, '127.0.0.1', () => resolve((holder?.address() as { port: number }).port)));
    expect(await portStatus(port)).toEqual({ free: false, code: 'EADDRINUSE' });

    await new Promise<void>((resolve) => holder?.close(() => resolve()));
    holder = undefined;
    expect(await portStatus(port)).toEqual({ free: true });
  });
});

describe('ephemeralPorts', () => {
  it('reads the range the kernel gives outgoing connections, and nothing from a file it cannot use', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cqa-ports-'));
    try {
      const file = join(dir, 'ip_local_port_range');
      writeFileSync(file, '32768\t60999\n');
      expect(ephemeralPorts(file)).toEqual({ low: 32768, high: 60999 });
      writeFileSync(file, 'garbage\n');
      expect(ephemeralPorts(file)).toBeUndefined();
      expect(ephemeralPorts(join(dir, 'missing'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
