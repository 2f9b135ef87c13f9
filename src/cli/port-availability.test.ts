import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { portStatus } from './port-availability.js';

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
