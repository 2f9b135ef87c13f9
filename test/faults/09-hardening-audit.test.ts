import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerGate, resultLine, startRealPool, type RealPool } from './support/real-pool.js';

/**
 * Scenario 9: what Docker says about every pool container (not what we asked it for): `docker inspect` of each
 * running container must show the hardening of src/runtime/docker/hardened-container-options.ts in force.
 */
const gate = await dockerGate('9 hardening audit');

describe.skipIf(gate.skip)('faults 9: hardening audit (docker inspect of every pool container)', () => {
  let pool: RealPool;
  beforeAll(async () => {
    pool = await startRealPool('harden');
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('every container: caps dropped, no-new-privileges, read-only root, non-root, limits, 127.0.0.1 ports, no socket, init', async () => {
    const problems: string[] = [];
    let passed = 0;
    for (const spec of pool.config.containerSpecs) {
      const info = await pool.docker.getContainer(spec.name).inspect();
      const host = info.HostConfig;
      const checks: Array<[string, boolean]> = [
        ['running', info.State.Running === true],
        ['CapDrop ALL', JSON.stringify(host.CapDrop) === '["ALL"]' && (host.CapAdd ?? []).length === 0],
        ['not privileged', host.Privileged === false],
        ['no-new-privileges', (host.SecurityOpt ?? []).some((o: string) => /^no-new-privileges(:true)?$/.test(o))],
        ['read-only root', host.ReadonlyRootfs === true],
        // A numeric uid other than 0, or a name other than root; the image's user is 10001.
        ['non-root user', /^[1-9][0-9]*(:[0-9]+)?$/.test(info.Config.User ?? '')],
        ['pids limit', (host.PidsLimit ?? 0) > 0],
        ['memory limit', (host.Memory ?? 0) > 0 && host.MemorySwap === host.Memory],
        ['cpu limit', (host.NanoCpus ?? 0) > 0 || (host.CpuQuota ?? 0) > 0],
        ['Init true', host.Init === true],
        [
          'ports on 127.0.0.1 only',
          Object.values(info.NetworkSettings.Ports ?? {}).every((bindings) => (bindings ?? []).every((b) => b.HostIp === '127.0.0.1')) &&
            Object.values(host.PortBindings ?? {}).every((bindings) => (bindings as Array<{ HostIp?: string }>).every((b) => b.HostIp === '127.0.0.1')),
        ],
        ['published at all', Object.keys(info.NetworkSettings.Ports ?? {}).length > 0],
        [
          'no Docker socket mount',
          !(info.Mounts ?? []).some((m) => /docker\.sock/.test(`${m.Source} ${m.Destination}`)) && !(host.Binds ?? []).some((b) => /docker\.sock/.test(b)),
        ],
        ['no mounts at all', (info.Mounts ?? []).length === 0 && (host.Binds ?? []).length === 0],
      ];
      const failed = checks.filter(([, ok]) => !ok).map(([name]) => name);
      if (failed.length) problems.push(`${spec.name}: ${failed.join(', ')}`);
      else passed++;
    }
    const sample = await pool.docker.getContainer(pool.config.containerSpecs[0]!.name).inspect();
    resultLine(
      '9 hardening audit',
      pool.config.containerSpecs.length,
      passed,
      `checks=14/container user=${sample.Config.User} pids=${sample.HostConfig.PidsLimit} mem=${(sample.HostConfig.Memory ?? 0) / 2 ** 20}MB cpus=${(sample.HostConfig.NanoCpus ?? 0) / 1e9}`,
    );
    expect(problems).toEqual([]);
  });
});
