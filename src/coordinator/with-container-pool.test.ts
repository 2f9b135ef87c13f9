import { describe, expect, it } from 'vitest';
import { defineConfig } from '@playwright/test';
import { parseContainerPoolOptions } from './container-pool-options.js';
import { poolOptionsFromMetadata, withContainerPool } from './with-container-pool.js';

describe('withContainerPool', () => {
  it('adds our globalSetup after the user one, our reporter after theirs, and the analytics teardown project', () => {
    const config = withContainerPool(
      defineConfig({ globalSetup: './seed.ts', reporter: [['html', { open: 'never' }]], projects: [{ name: 'chromium' }], metadata: { team: 'qa' } }),
      { containers: 3, redisUrl: 'redis://:secret@localhost:6379' },
    );
    const setups = config.globalSetup as string[];
    expect(setups[0]).toBe('./seed.ts');
    expect(setups[1]).toMatch(/coordinator[/\\]global-setup\.(ts|js)$/);
    const reporters = config.reporter as unknown as Array<[string, unknown?]>;
    expect(reporters[0]).toEqual(['html', { open: 'never' }]);
    expect(reporters[1]?.[0]).toMatch(/reporter[/\\]index\.(ts|js)$/);
    expect(config.projects?.map((p) => p.name)).toEqual(['chromium', 'container-pool-analytics']);
    expect(config.projects?.[0]?.teardown).toBe('container-pool-analytics');
    // Readable by globalSetup, invisible to reports that print metadata (the Redis password).
    expect(poolOptionsFromMetadata(config.metadata)).toMatchObject({ containers: 3 });
    expect(JSON.stringify(config.metadata)).toBe('{"team":"qa"}');
  });

  it('keeps Playwright\'s default reporter when the config names none, and is idempotent', () => {
    const once = withContainerPool(defineConfig({ reporter: 'html' }), {});
    const twice = withContainerPool(once, {});
    expect((twice.reporter as unknown[]).length).toBe(2);
    expect((twice.globalSetup as string[]).length).toBe(1);
    expect(twice.projects?.filter((p) => p.name === 'container-pool-analytics')).toHaveLength(1);
    const byDefault = withContainerPool(withContainerPool(defineConfig({}), {}), {});
    expect((byDefault.reporter as unknown as Array<[string]>)[0]![0]).toMatch(/^(list|dot)$/);
    expect((byDefault.reporter as unknown[]).length).toBe(2);
  });

  it('adds the analytics project only when a reporter writes a report that shows it (html, blob)', () => {
    const names = (reporter: Parameters<typeof defineConfig>[0]['reporter']) => withContainerPool(defineConfig({ reporter, projects: [{ name: 'chromium' }] }), {}).projects?.map((p) => p.name);
    expect(names([['blob']])).toEqual(['chromium', 'container-pool-analytics']);
    expect(names('html')).toEqual(['chromium', 'container-pool-analytics']);
    // No report to show the entry in: no worker paid for it at the end of the run, the projects as given.
    expect(names([['list'], ['json', { outputFile: 'r.json' }]])).toEqual(['chromium']);
    expect(names(undefined)).toEqual(['chromium']);
    expect(withContainerPool(defineConfig({ reporter: 'dot' }), {}).projects).toBeUndefined();
  });

  it('rejects bad options at once, naming every bad path', () => {
    expect(() => withContainerPool(defineConfig({}), { containers: 0, runtime: 'dokker' as never, lease: { ttlMs: 'x' as never } })).toThrow(
      /Invalid withContainerPool options:\n {2}- runtime: must be one of "auto", "docker", "process" \(got "dokker"\)\n.*containers.*\n.*lease\.ttlMs/s,
    );
  });
});

describe('parseContainerPoolOptions', () => {
  it('splits plugin and pool options and treats undefined as absent', () => {
    const { pool, plugin } = parseContainerPoolOptions({ containers: 1, basePort: 4000, runtime: 'process', redisUrl: undefined });
    expect(plugin).toEqual({ runtime: 'process', mode: 'local' });
    expect(pool.containerSpecs).toEqual([expect.objectContaining({ id: 'container-1', name: 'cinnamon-qa-mcp-1', port: 4000 })]);
  });

  it('refuses a redisUrl that is not redis://, rediss:// or redis-sentinel://', () => {
    expect(() => parseContainerPoolOptions({ redisUrl: 'http://localhost:6379' })).toThrow(/redisUrl: must be a redis:\/\/, rediss:\/\/ or redis-sentinel:\/\/ URL/);
    expect(parseContainerPoolOptions({ redisUrl: 'redis-sentinel://10.0.0.5:26379/mymaster' }).plugin.redisUrl).toBe('redis-sentinel://10.0.0.5:26379/mymaster');
  });
});
