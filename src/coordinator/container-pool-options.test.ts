import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { optionsRefusal } from '../../test/support/options-refusal.js';
import { resolveAppHost } from './app-host.js';
import { parseContainerPoolOptions } from './container-pool-options.js';

const REDIS = 'redis://127.0.0.1:6390';

describe('parseContainerPoolOptions: mode, appHost and the environment', () => {
  it("defaults to mode 'local' with no app host", () => {
    const { plugin } = parseContainerPoolOptions({}, {});
    expect(plugin.mode).toBe('local');
    expect(plugin.appHost).toBeUndefined();
  });

  it("takes mode 'shared' with a redisUrl and an appHost", () => {
    const { plugin } = parseContainerPoolOptions({ mode: 'shared', redisUrl: REDIS, appHost: '10.0.0.5' }, {});
    expect(plugin).toMatchObject({ mode: 'shared', redisUrl: REDIS, appHost: '10.0.0.5' });
  });

  it('CINNAMON_POOL_MODE, CINNAMON_POOL_APP_HOST and CINNAMON_POOL_ID override the options', () => {
    const { plugin, pool } = parseContainerPoolOptions(
      { mode: 'local', redisUrl: REDIS, poolId: 'mine', appHost: 'a.example' },
      { CINNAMON_POOL_MODE: 'shared', CINNAMON_POOL_APP_HOST: '10.231.0.9', CINNAMON_POOL_ID: 'ci-build-7' },
    );
    expect(plugin.mode).toBe('shared');
    expect(plugin.appHost).toBe('10.231.0.9');
    expect(pool.poolId).toBe('ci-build-7');
  });

  it('CINNAMON_POOL_TENANT overrides the tenant option; a bad one is refused as the option is', () => {
    expect(parseContainerPoolOptions({ tenant: 'team-a', tenantQuota: 2 }, { CINNAMON_POOL_TENANT: 'nightly' }).pool).toMatchObject({ tenant: 'nightly', tenantQuota: 2 });
    expect(parseContainerPoolOptions({}, {}).pool.tenant).toBeUndefined();
    const error = optionsRefusal(() => parseContainerPoolOptions({ tenantQuota: 0 }, { CINNAMON_POOL_TENANT: 'has spaces' }));
    expect(error.data.problems).toEqual([expect.stringMatching(/^tenant: /), expect.stringMatching(/^tenantQuota: /)]);
  });

  describe('runGroup', () => {
    const GITHUB = { GITHUB_RUN_ID: '9876543210', GITHUB_RUN_ATTEMPT: '1' };

    it('is none outside CI, and the CI build id in CI', () => {
      expect(parseContainerPoolOptions({}, {}).pool.runGroup).toBeUndefined();
      expect(parseContainerPoolOptions({}, GITHUB).pool.runGroup).toBe('github:9876543210-1');
      expect(parseContainerPoolOptions({}, { CI_PIPELINE_ID: '4411' }).pool.runGroup).toBe('gitlab:4411');
    });

    it('the option wins over the CI build id; CINNAMON_POOL_RUN_GROUP wins over both', () => {
      expect(parseContainerPoolOptions({ runGroup: 'nightly-7' }, GITHUB).pool.runGroup).toBe('nightly-7');
      expect(parseContainerPoolOptions({ runGroup: 'nightly-7' }, { ...GITHUB, CINNAMON_POOL_RUN_GROUP: ' tier-42 ' }).pool.runGroup).toBe('tier-42');
      expect(parseContainerPoolOptions({}, { CINNAMON_POOL_RUN_GROUP: '' }).pool.runGroup).toBeUndefined();
    });

    it('refuses a bad option value, naming the option and the fix', () => {
      const error = optionsRefusal(() => parseContainerPoolOptions({ runGroup: 'build 7/a' }, {}));
      expect(error.code).toBe('INVALID_OPTIONS');
      expect(error.data.problems).toEqual([
        'runGroup: must be 1-128 letters, digits, _ . : - (start with a letter or digit), e.g. the CI build id; or leave it out to take the CI build id (got "build 7/a")',
      ]);
    });

    it('refuses a bad CINNAMON_POOL_RUN_GROUP, naming the variable and the fix, with the other problems', () => {
      const error = optionsRefusal(() => parseContainerPoolOptions({ tenantQuota: 0 }, { ...GITHUB, CINNAMON_POOL_RUN_GROUP: '-starts-with-dash' }));
      expect(error.data.problems).toEqual([
        'CINNAMON_POOL_RUN_GROUP="-starts-with-dash" is not a run group: it must be 1-128 letters, digits, _ . : - (start with a letter or digit); set it to the CI build id, or unset it',
        expect.stringMatching(/^tenantQuota: /),
      ]);
    });
  });

  it('refuses a bad CINNAMON_POOL_MODE, naming the variable and the allowed values', () => {
    const error = optionsRefusal(() => parseContainerPoolOptions({ redisUrl: REDIS }, { CINNAMON_POOL_MODE: 'cluster' }));
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.data.problems).toEqual([expect.stringMatching(/^CINNAMON_POOL_MODE="cluster" is not a pool mode; use one of local, shared, or unset it$/)]);
  });

  it('refuses a bad CINNAMON_POOL_ID as the poolId option is refused', () => {
    const error = optionsRefusal(() => parseContainerPoolOptions({}, { CINNAMON_POOL_ID: 'has spaces' }));
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.data.problems).toEqual([expect.stringMatching(/^poolId: /)]);
  });

  it("refuses mode 'shared' without redisUrl, naming both fixes", () => {
    const error = optionsRefusal(() => parseContainerPoolOptions({ mode: 'shared' }, {}));
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.data.problems).toEqual([expect.stringMatching(/mode: 'shared' needs redisUrl.*set redisUrl.*or use mode: 'local'$/)]);
    const fromEnv = optionsRefusal(() => parseContainerPoolOptions({}, { CINNAMON_POOL_MODE: 'shared' }));
    expect(fromEnv.data.problems).toEqual([expect.stringMatching(/or use mode: 'local' \(unset CINNAMON_POOL_MODE\)$/)]);
  });

  it('refuses an appHost with a scheme or a port', () => {
    for (const appHost of ['http://10.0.0.5', '10.0.0.5:3000']) {
      const error = optionsRefusal(() => parseContainerPoolOptions({ mode: 'shared', redisUrl: REDIS, appHost }, {}));
      expect(error.data.problems).toEqual([expect.stringMatching(/^appHost: must be a host name or address/)]);
    }
  });
});

describe('resolveAppHost', () => {
  const iface = (address: string, internal: boolean, family: 'IPv4' | 'IPv6' = 'IPv4') =>
    ({ address, internal, family, netmask: '', mac: '', cidr: null }) as NetworkInterfaceInfo;

  it('keeps the option when given', () => {
    expect(resolveAppHost('app.example', { eth0: [iface('10.0.0.2', false)] })).toEqual({ host: 'app.example', reason: 'appHost' });
  });

  it('defaults to the first non-internal IPv4, skipping loopback and IPv6', () => {
    const found = resolveAppHost(undefined, {
      lo: [iface('127.0.0.1', true)],
      eth0: [iface('fe80::1', false, 'IPv6'), iface('10.231.0.4', false)],
      eth1: [iface('192.168.1.9', false)],
    });
    expect(found).toEqual({ host: '10.231.0.4', reason: 'first non-internal IPv4, eth0' });
  });

  it('refuses when there is none, naming the option and the variable', () => {
    const error = optionsRefusal(() => resolveAppHost(undefined, { lo: [iface('127.0.0.1', true)] }));
    expect(error.code).toBe('INVALID_OPTIONS');
    expect(error.message).toMatch(/Set appHost \(or CINNAMON_POOL_APP_HOST\)/);
  });
});
