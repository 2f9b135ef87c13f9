import { describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import { UsageError, parseCommand } from './cli-args.js';

describe('parseCommand', () => {
  it('doctor defaults: auto runtime, ports 3001-3002, no Redis', () => {
    expect(parseCommand(['doctor'], {})).toEqual({
      kind: 'doctor',
      json: false,
      options: { runtime: 'auto', runtimeSource: 'default', ports: [3001, 3002], redisUrl: undefined },
    });
  });

  it('doctor reads CINNAMON_POOL_RUNTIME and REDIS_URL, and flags win over them', () => {
    const env = { CINNAMON_POOL_RUNTIME: 'process', REDIS_URL: 'redis://env:6379' };
    expect(parseCommand(['doctor'], env)).toMatchObject({
      options: { runtime: 'process', runtimeSource: 'CINNAMON_POOL_RUNTIME=process', redisUrl: 'redis://env:6379' },
    });
    expect(parseCommand(['doctor', '--runtime', 'docker', '--redis', 'redis://flag:6379', '--containers', '3', '--base-port', '4001', '--json'], env)).toEqual({
      kind: 'doctor',
      json: true,
      options: { runtime: 'docker', runtimeSource: '--runtime', ports: [4001, 4002, 4003], redisUrl: 'redis://flag:6379' },
    });
  });

  it('rejects bad flags with a usage error and bad pool sizes with the pool option message', () => {
    expect(() => parseCommand(['doctor', '--runtime', 'kubernetes'], {})).toThrow(UsageError);
    expect(() => parseCommand(['doctor', '--containers', 'two'], {})).toThrow(/--containers must be a whole number/);
    expect(() => parseCommand(['doctor', '--verbose'], {})).toThrow(UsageError);
    try {
      parseCommand(['doctor', '--base-port', '65535', '--containers', '2'], {});
      expect.unreachable();
    } catch (error) {
      expect(isPoolError(error, 'INVALID_OPTIONS')).toBe(true);
    }
  });

  it('status takes URL and token from flags, else from the environment globalSetup sets', () => {
    expect(parseCommand(['status'], { CINNAMON_POOL_URL: 'http://127.0.0.1:4000', CINNAMON_POOL_TOKEN: 't' })).toEqual({
      kind: 'status',
      json: false,
      lookup: { url: 'http://127.0.0.1:4000', token: 't', file: undefined },
    });
    expect(parseCommand(['status', '--url', 'http://x', '--token', 'y', '--json'], { CINNAMON_POOL_URL: 'http://env' })).toMatchObject({
      json: true,
      lookup: { url: 'http://x', token: 'y' },
    });
    expect(parseCommand(['status', '--file', 'a/coordinator.json'], {})).toMatchObject({ lookup: { file: 'a/coordinator.json' } });
  });

  it('image build (with --force) and image tag; anything else is a usage error', () => {
    expect(parseCommand(['image', 'build'], {})).toEqual({ kind: 'image-build', force: false });
    expect(parseCommand(['image', 'build', '--force'], {})).toEqual({ kind: 'image-build', force: true });
    expect(parseCommand(['image', 'tag'], {})).toEqual({ kind: 'image-tag' });
    expect(() => parseCommand(['image'], {})).toThrow(/needs an action: build or tag/);
    expect(() => parseCommand(['image', 'pull'], {})).toThrow(/unknown image action 'pull'/);
    expect(() => parseCommand(['image', 'tag', '--force'], {})).toThrow(UsageError);
  });

  it('help and unknown commands', () => {
    expect(parseCommand([], {})).toEqual({ kind: 'help' });
    expect(parseCommand(['--help'], {})).toEqual({ kind: 'help' });
    expect(() => parseCommand(['stats'], {})).toThrow(/unknown command 'stats'/);
  });
});
