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

  it('down: every warm pool, or one with --pool-id; other flags are a usage error', () => {
    expect(parseCommand(['down'], {})).toEqual({ kind: 'down' });
    expect(parseCommand(['down', '--pool-id', 'mine'], {})).toEqual({ kind: 'down', poolId: 'mine' });
    expect(() => parseCommand(['down', '--force'], {})).toThrow(UsageError);
  });

  it('help and unknown commands', () => {
    expect(parseCommand([], {})).toEqual({ kind: 'help' });
    expect(parseCommand(['--help'], {})).toEqual({ kind: 'help' });
    expect(() => parseCommand(['stats'], {})).toThrow(/unknown command 'stats'/);
  });

  it("acl: the pool's key prefix from --prefix, --pool-id, $CINNAMON_POOL_ID or the default; --user", () => {
    expect(parseCommand(['acl'], {})).toEqual({ kind: 'acl', keyPrefix: 'cinnamon-pool:cinnamon-qa', user: 'cinnamon-pool' });
    expect(parseCommand(['acl'], { CINNAMON_POOL_ID: 'team-a' })).toMatchObject({ keyPrefix: 'cinnamon-pool:team-a' });
    expect(parseCommand(['acl', '--pool-id', 'team-b', '--user', 'ci'], { CINNAMON_POOL_ID: 'team-a' })).toEqual({
      kind: 'acl',
      keyPrefix: 'cinnamon-pool:team-b',
      user: 'ci',
    });
    expect(parseCommand(['acl', '--prefix', '{pool}'], {})).toMatchObject({ keyPrefix: '{pool}' });
    expect(() => parseCommand(['acl', '--prefix', 'a', '--pool-id', 'b'], {})).toThrow(/not both/);
    expect(() => parseCommand(['acl', '--redis-url', 'redis://x'], {})).toThrow(UsageError);
  });
});

describe('parseCommand agent (issue 11)', () => {
  const flags = ['--redis-url', 'redis://127.0.0.1:6379', '--host-id', 'h1', '--containers', '2', '--base-port', '3001', '--runtime', 'process', '--advertise', '10.231.0.2'];

  it('takes the flags exactly as named, with the defaults and env fallbacks of the agent options', () => {
    expect(parseCommand(['agent', ...flags], {})).toEqual({
      kind: 'agent',
      options: {
        redisUrl: 'redis://127.0.0.1:6379',
        hostId: 'h1',
        containers: 2,
        basePort: 3001,
        runtime: 'process',
        advertise: '10.231.0.2',
        prefix: 'cinnamon-qa-mcp',
        poolId: 'cinnamon-qa',
        hostLeaseMs: 10_000,
        drainGraceMs: 30_000,
        controlPort: 0,
      },
    });
    const more = ['--prefix', 'mcp', '--pool-id', 'p1', '--host-lease-ms', '3000', '--drain-grace-ms', '0', '--control-port', '4000'];
    expect(parseCommand(['agent', ...flags, ...more], {})).toMatchObject({ options: { prefix: 'mcp', poolId: 'p1', hostLeaseMs: 3000, drainGraceMs: 0, controlPort: 4000 } });
    expect(parseCommand(['agent', ...flags.slice(2)], { REDIS_URL: 'redis://env:6379', CINNAMON_POOL_ID: 'env-pool' })).toMatchObject({ options: { redisUrl: 'redis://env:6379', poolId: 'env-pool' } });
  });

  it('refuses unknown flags as usage, and bad values as INVALID_OPTIONS naming each (exit code 2 either way)', () => {
    expect(() => parseCommand(['agent', ...flags, '--verbose'], {})).toThrow(UsageError);
    expect(() => parseCommand(['agent', ...flags, 'extra'], {})).toThrow(UsageError);
    try {
      parseCommand(['agent', ...flags.slice(0, 4), '--containers', 'two', '--runtime', 'kube'], {});
      expect.unreachable();
    } catch (error) {
      expect(isPoolError(error, 'INVALID_OPTIONS')).toBe(true);
      expect((error as Error).message).toMatch(/containers: .*"two"/);
      expect((error as Error).message).toMatch(/runtime: /);
      expect((error as Error).message).toMatch(/basePort: /);
    }
  });
});
