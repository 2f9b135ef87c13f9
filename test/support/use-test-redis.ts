import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startTestRedis, type TestRedis } from './redis-server.js';

/** The file's Redis and an admin connection to it, valid inside tests (after the file's `beforeAll`). */
export interface TestRedisHandle {
  readonly server: TestRedis;
  readonly admin: Redis;
}

/**
 * One Redis per test file: registers the file's `beforeAll` (start it, connect an admin client) and `afterAll`
 * (close the client, stop the server). Call it at the top level of the file.
 */
export function useTestRedis(): TestRedisHandle {
  let server: TestRedis | undefined;
  let admin: Redis | undefined;
  beforeAll(async () => {
    server = await startTestRedis();
    admin = server.connect();
  });
  afterAll(async () => {
    await admin?.quit();
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('useTestRedis: the server is only there inside tests (after beforeAll)');
      return server;
    },
    get admin() {
      if (!admin) throw new Error('useTestRedis: the admin connection is only there inside tests (after beforeAll)');
      return admin;
    },
  };
}
