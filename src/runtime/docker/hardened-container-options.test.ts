import { describe, expect, it } from 'vitest';
import { SANDBOX_MARKER_ENV } from '../container-runtime.js';
import { hardenedContainerOptions } from './hardened-container-options.js';

const input = {
  spec: { id: 'container-1', name: 'cinnamon-qa-pool-run-1', port: 40001, memoryMB: 512, cpuPercent: 50 },
  // A stand-in for MemberCredentials.keyOf: what matters here is that each member gets the key of its own id.
  ctx: { poolId: 'pool', runId: 'run', guardKey: (id: string) => `key-of-${id}` },
  image: 'cinnamon-qa/mcp:test',
  networkName: 'cinnamon-qa-net',
  layout: { home: '/mcp/home', workdir: '/mcp/work', tmpdir: '/tmp', rundir: '/mcp/run', uid: 10001, gid: 10001 },
  limits: { shmSizeMB: 512, pidsLimit: 512, tmpSizeMB: 256, homeSizeMB: 256, workdirSizeMB: 64 },
};

describe('hardenedContainerOptions', () => {
  it('gives the container its port, its sandbox marker (the container name) and its guard key and member id in Env', () => {
    const options = hardenedContainerOptions(input);
    expect(options.Env).toEqual(['MCP_PORT=40001', `${SANDBOX_MARKER_ENV}=cinnamon-qa-pool-run-1`, 'MCP_GUARD_KEY=key-of-container-1', 'MCP_GUARD_MEMBER=container-1']);
    expect(options.name).toBe('cinnamon-qa-pool-run-1');
  });

  it('gives every member its own marker value and guard key, so cleanup in one never matches another and its key opens it alone', () => {
    const other = hardenedContainerOptions({ ...input, spec: { ...input.spec, id: 'container-10', name: 'cinnamon-qa-pool-run-10', port: 40010 } });
    const marker = (env: string[] | undefined) => env?.find((e) => e.startsWith(`${SANDBOX_MARKER_ENV}=`));
    expect(marker(other.Env)).toBe(`${SANDBOX_MARKER_ENV}=cinnamon-qa-pool-run-10`);
    expect(marker(other.Env)).not.toBe(marker(hardenedContainerOptions(input).Env));
    expect(other.Env).toEqual(expect.arrayContaining(['MCP_GUARD_KEY=key-of-container-10', 'MCP_GUARD_MEMBER=container-10']));
  });

  it('passes the server its flags as the container command and its variables in Env, pool variables last', () => {
    const options = hardenedContainerOptions({ ...input, serverArgs: ['--idle-timeout', '0'], serverEnv: { PLAYWRIGHT_MCP_PING_TIMEOUT_MS: '0', MCP_PORT: '1' } });
    expect(options.Cmd).toEqual(['--idle-timeout', '0']);
    expect(options.Env).toEqual([
      'PLAYWRIGHT_MCP_PING_TIMEOUT_MS=0',
      'MCP_PORT=1',
      'MCP_PORT=40001',
      `${SANDBOX_MARKER_ENV}=cinnamon-qa-pool-run-1`,
      'MCP_GUARD_KEY=key-of-container-1',
      'MCP_GUARD_MEMBER=container-1',
    ]);
  });

  it("lengthens only the timeout of the image's health check, so Docker keeps the image's command, interval and retries", () => {
    // Docker fills the fields left out (Test, Interval, Retries, StartPeriod) from the image's HEALTHCHECK.
    expect(hardenedContainerOptions(input).Healthcheck).toEqual({ Timeout: 10_000_000_000 });
  });

  it('publishes on 127.0.0.1 unless given a bind address, and names the advertised host:port for the guard only when given one (issue 11)', () => {
    const local = hardenedContainerOptions(input);
    expect(local.HostConfig?.PortBindings).toEqual({ '40001/tcp': [{ HostIp: '127.0.0.1', HostPort: '40001' }] });
    expect(local.Env?.some((e) => e.startsWith('MCP_GUARD_HOSTS='))).toBe(false);
    const shared = hardenedContainerOptions({ ...input, bindAddress: '0.0.0.0', advertisedHost: '10.231.0.2' });
    expect(shared.HostConfig?.PortBindings).toEqual({ '40001/tcp': [{ HostIp: '0.0.0.0', HostPort: '40001' }] });
    expect(shared.Env).toContain('MCP_GUARD_HOSTS=10.231.0.2:40001');
  });
});
