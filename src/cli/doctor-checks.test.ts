import { describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import type { CheckResult } from './check-result.js';
import { runDoctor, type DoctorOptions, type DoctorProbes } from './doctor-checks.js';

/** A machine where everything is in place; each test breaks one thing. */
function healthyProbes(overrides: Partial<DoctorProbes> = {}): DoctorProbes {
  return {
    nodeVersion: '20.20.2',
    mcpPackage: () => ({ version: '0.0.83' }),
    dockerEndpoint: '/var/run/docker.sock',
    pingDocker: async () => ({ ok: true }),
    imageTag: async () => 'cinnamon-qa/mcp:0.0.83-abc',
    imageExists: async () => true,
    imageBuildability: async () => ({ buildable: true, how: 'base present' }),
    locateChromium: () => ({ executablePath: '/usr/bin/chromium', source: 'path' }),
    pingRedis: async () => ({ ok: true, version: '7.0.15' }),
    portStatus: async () => ({ free: true }),
    ephemeralPorts: () => ({ low: 32768, high: 60999 }),
    ...overrides,
  };
}

const options = (overrides: Partial<DoctorOptions> = {}): DoctorOptions => ({
  runtime: 'auto',
  runtimeSource: 'default',
  ports: [3001, 3002],
  ...overrides,
});

const byName = (results: CheckResult[], name: string): CheckResult => {
  const found = results.find((r) => r.name.startsWith(name));
  if (!found) throw new Error(`no check ${name} in ${results.map((r) => r.name).join(', ')}`);
  return found;
};

const noChromium = (): never => {
  throw new PoolError('RUNTIME_ERROR', 'Process runtime: no Chromium found.');
};

describe('runDoctor', () => {
  it('passes on a ready machine and says auto resolves to docker', async () => {
    const results = await runDoctor(options(), healthyProbes());
    expect(results.filter((r) => r.status === 'fail' || r.status === 'warn')).toEqual([]);
    expect(byName(results, 'Runtime').detail).toBe('auto (default) → docker');
    expect(byName(results, 'Docker image').detail).toBe('cinnamon-qa/mcp:0.0.83-abc present');
  });

  it('without Docker, auto only warns and falls back to the process runtime', async () => {
    const results = await runDoctor(options(), healthyProbes({ pingDocker: async () => ({ ok: false, code: 'ENOENT', message: 'no socket' }) }));
    expect(byName(results, 'Docker daemon')).toMatchObject({ status: 'warn', fix: expect.stringContaining('dockerd') });
    expect(byName(results, 'Docker image').status).toBe('skip');
    expect(byName(results, 'Runtime').detail).toBe('auto (default) → process');
    expect(results.some((r) => r.status === 'fail')).toBe(false);
  });

  it('without Docker, an explicit docker runtime fails', async () => {
    const results = await runDoctor(
      options({ runtime: 'docker', runtimeSource: 'CINNAMON_POOL_RUNTIME=docker' }),
      healthyProbes({ pingDocker: async () => ({ ok: false, code: 'ECONNREFUSED', message: 'refused' }) }),
    );
    expect(byName(results, 'Docker daemon')).toMatchObject({ status: 'fail', detail: 'no answer at /var/run/docker.sock (ECONNREFUSED)' });
    expect(byName(results, 'Chromium').status).toBe('skip');
  });

  it('a missing but buildable image: auto and docker runs build it first; an unbuildable one sends auto to processes', async () => {
    const probes = healthyProbes({ imageExists: async () => false });
    const auto = await runDoctor(options(), probes);
    expect(byName(auto, 'Docker image')).toMatchObject({ status: 'warn', fix: expect.stringContaining('npx cinnamon-pool image build') });
    expect(byName(auto, 'Docker image').detail).toContain('the run builds it first');
    expect(byName(auto, 'Runtime').detail).toContain('→ docker');

    const unbuildable = await runDoctor(options(), healthyProbes({ imageExists: async () => false, imageBuildability: async () => ({ buildable: false, why: 'no base', fix: 'get one' }) }));
    expect(byName(unbuildable, 'Docker image').detail).toContain('runtime auto will use the process runtime');
    expect(byName(unbuildable, 'Runtime').detail).toContain('→ process');

    const docker = await runDoctor(options({ runtime: 'docker' }), probes);
    expect(byName(docker, 'Docker image')).toMatchObject({ status: 'warn', detail: expect.stringContaining('the run builds it first') });
    expect(byName(docker, 'Runtime').detail).toContain('→ docker');
  });

  it('checks the configured dockerImage instead of the script tag', async () => {
    const seen: string[] = [];
    const results = await runDoctor(options({ image: 'registry.local/mcp:7' }), healthyProbes({ imageExists: async (tag) => (seen.push(tag), true) }));
    expect(seen).toEqual(['registry.local/mcp:7']);
    expect(byName(results, 'Docker image').detail).toBe('registry.local/mcp:7 present');
  });

  it('reports a failing --print-tag as an image problem', async () => {
    const results = await runDoctor(options({ runtime: 'docker' }), healthyProbes({ imageTag: async () => Promise.reject(new Error('node_modules/@playwright/mcp is missing')) }));
    expect(byName(results, 'Docker image')).toMatchObject({ status: 'fail', detail: expect.stringContaining('node_modules/@playwright/mcp is missing') });
  });

  it('a missing Chromium fails the process runtime and tells how to install one', async () => {
    const results = await runDoctor(options({ runtime: 'process', runtimeSource: '--runtime' }), healthyProbes({ locateChromium: noChromium }));
    expect(byName(results, 'Chromium')).toMatchObject({ status: 'fail', fix: expect.stringContaining('apt-get install -y chromium') });
    expect(byName(results, 'Docker daemon').status).toBe('skip');
  });

  it('a missing Chromium is only a warning while auto can use Docker', async () => {
    const results = await runDoctor(options(), healthyProbes({ locateChromium: noChromium }));
    expect(byName(results, 'Chromium').status).toBe('warn');
  });

  it('a missing Chromium fails auto when Docker is not usable either', async () => {
    const results = await runDoctor(
      options(),
      healthyProbes({ locateChromium: noChromium, pingDocker: async () => ({ ok: false, code: 'ENOENT', message: '' }) }),
    );
    expect(byName(results, 'Chromium')).toMatchObject({ status: 'fail', fix: expect.stringContaining('start Docker') });
  });

  it('skips Redis when none is configured and checks it when one is', async () => {
    expect(byName(await runDoctor(options(), healthyProbes()), 'Redis').status).toBe('skip');

    const pinged: string[] = [];
    const ok = await runDoctor(options({ redisUrl: 'redis://127.0.0.1:6379' }), healthyProbes({ pingRedis: async (url) => (pinged.push(url), { ok: true }) }));
    expect(byName(ok, 'Redis').status).toBe('ok');
    expect(pinged).toEqual(['redis://127.0.0.1:6379']);
  });

  it('an unreachable Redis fails without printing its password', async () => {
    const results = await runDoctor(
      options({ redisUrl: 'redis://:hunter2@cache:6379/0' }),
      healthyProbes({ pingRedis: async () => ({ ok: false, message: 'ECONNREFUSED' }) }),
    );
    const redis = byName(results, 'Redis');
    expect(redis).toMatchObject({ status: 'fail', fix: expect.stringContaining('unset REDIS_URL') });
    expect(redis.detail).not.toContain('hunter2');
  });

  it('names every busy pool port', async () => {
    const results = await runDoctor(
      options({ ports: [3001, 3002, 3003] }),
      healthyProbes({ portStatus: async (port) => (port === 3001 ? { free: true } : { free: false, code: 'EADDRINUSE' }) }),
    );
    expect(byName(results, 'Pool ports')).toMatchObject({
      status: 'fail',
      detail: 'in use: 3002 (EADDRINUSE), 3003 (EADDRINUSE)',
      fix: expect.stringContaining("ss -tanp 'sport = :3002'"),
    });
    expect(byName(results, 'Runtime').status).toBe('skip');
  });

  it('warns when free pool ports lie in the kernel ephemeral range, and says so beside a busy one', async () => {
    const free = await runDoctor(options({ ports: [44515, 44516] }), healthyProbes());
    expect(byName(free, 'Pool ports')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('all inside the ephemeral range 32768-60999'),
      fix: expect.stringContaining('basePort of at most 32766'),
    });
    expect(byName(free, 'Pool ports').fix).toContain('ip_local_reserved_ports=44515-44516');
    expect(byName(free, 'Runtime').status).not.toBe('skip');

    const straddling = await runDoctor(
      options({ ports: [32767, 32768] }),
      healthyProbes({ portStatus: async (port) => (port === 32768 ? { free: false, code: 'EADDRINUSE' } : { free: true }) }),
    );
    expect(byName(straddling, 'Pool ports')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^in use: 32768 \(EADDRINUSE\); 1 of 2 inside the ephemeral range/) });

    const unknown = await runDoctor(options({ ports: [44515, 44516] }), healthyProbes({ ephemeralPorts: () => undefined }));
    expect(byName(unknown, 'Pool ports')).toMatchObject({ status: 'ok' });
    expect(byName(await runDoctor(options(), healthyProbes()), 'Pool ports')).toMatchObject({ status: 'ok', detail: '127.0.0.1:3001-3002 free' });
  });

  it('fails an old Node.js and a missing @playwright/mcp', async () => {
    const results = await runDoctor(
      options(),
      healthyProbes({
        nodeVersion: '20.11.1',
        mcpPackage: () => {
          throw new Error('cannot find the @playwright/mcp package');
        },
      }),
    );
    expect(byName(results, 'Node.js')).toMatchObject({ status: 'fail', fix: 'install Node.js 20.12 or newer' });
    expect(byName(results, '@playwright/mcp')).toMatchObject({ status: 'fail', fix: expect.stringContaining('npm ci') });
  });
});
