import { describe, expect, it, vi } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import type { DockerEndpoint, DockerPingResult } from './docker/docker-endpoint.js';
import { DEFAULT_DOCKER_PING_TIMEOUT_MS, DEFAULT_RUNTIME_CHOICE, selectRuntime, type ImageAvailability } from './select-runtime.js';

const answers = async (): Promise<DockerPingResult> => ({ ok: true });
const noDaemon = async (): Promise<DockerPingResult> => ({ ok: false, code: 'ENOENT', message: 'connect ENOENT /var/run/docker.sock' });
const imagePresent = async (): Promise<ImageAvailability> => ({ ok: true, reason: 'image cinnamon-qa/mcp:x is present' });
const socketEnv = { DOCKER_HOST: 'unix:///var/run/docker.sock' };

describe('selectRuntime', () => {
  it('auto: docker when the daemon answers and the image is available', async () => {
    const decision = await selectRuntime({ env: socketEnv, pingDocker: answers, dockerImageAvailable: imagePresent });
    expect(decision).toEqual({
      kind: 'docker',
      reason: 'docker: daemon answered at /var/run/docker.sock and image cinnamon-qa/mcp:x is present',
    });
  });

  it('auto: process when no daemon answers, naming the endpoint and the error code; the image is not asked', async () => {
    const image = vi.fn(imagePresent);
    const decision = await selectRuntime({ env: socketEnv, pingDocker: noDaemon, dockerImageAvailable: image });
    expect(decision).toEqual({ kind: 'process', reason: 'process: no Docker daemon at /var/run/docker.sock (ENOENT)' });
    expect(image).not.toHaveBeenCalled();
  });

  it('auto: process when the image is not available or its check throws', async () => {
    const missing = await selectRuntime({
      env: socketEnv,
      pingDocker: answers,
      dockerImageAvailable: async () => ({ ok: false, reason: 'image cinnamon-qa/mcp:x is missing and cannot be built' }),
    });
    expect(missing.kind).toBe('process');
    expect(missing.reason).toBe('process: Docker daemon answered at /var/run/docker.sock but image cinnamon-qa/mcp:x is missing and cannot be built');
    const broken = await selectRuntime({
      env: socketEnv,
      pingDocker: answers,
      dockerImageAvailable: async () => {
        throw new Error('boom');
      },
    });
    expect(broken).toEqual({ kind: 'process', reason: 'process: Docker daemon answered at /var/run/docker.sock but the image check failed: boom' });
  });

  it('pings the endpoint DOCKER_HOST names, with the timeout given', async () => {
    const ping = vi.fn(async (_endpoint: DockerEndpoint, _timeoutMs: number): Promise<DockerPingResult> => ({ ok: false, code: 'ECONNREFUSED', message: '' }));
    const decision = await selectRuntime({ env: { DOCKER_HOST: 'tcp://docker.example:2375' }, pingDocker: ping, pingTimeoutMs: 250, dockerImageAvailable: imagePresent });
    expect(decision.reason).toBe('process: no Docker daemon at tcp://docker.example:2375 (ECONNREFUSED)');
    expect(ping.mock.calls[0]?.[0].connection).toMatchObject({ host: 'docker.example', port: '2375', protocol: 'http' });
    expect(ping.mock.calls[0]?.[1]).toBe(250);
  });

  it('process requested: no ping at all', async () => {
    const ping = vi.fn(answers);
    const decision = await selectRuntime({ requested: 'process', env: {}, pingDocker: ping, dockerImageAvailable: imagePresent });
    expect(decision).toEqual({ kind: 'process', reason: "process: requested by runtime: 'process'" });
    expect(ping).not.toHaveBeenCalled();
  });

  it('docker requested: docker when the daemon answers, a clear error when not (no silent fallback)', async () => {
    const ok = await selectRuntime({ requested: 'docker', env: socketEnv, pingDocker: answers, dockerImageAvailable: imagePresent });
    expect(ok).toEqual({ kind: 'docker', reason: "docker: requested by runtime: 'docker'; daemon answered at /var/run/docker.sock" });
    const failing = selectRuntime({ requested: 'docker', env: socketEnv, pingDocker: noDaemon, dockerImageAvailable: imagePresent });
    await expect(failing).rejects.toSatisfy((e: unknown) => isPoolError(e, 'RUNTIME_ERROR'));
    await expect(failing).rejects.toThrow(/no Docker daemon answers at \/var\/run\/docker\.sock \(ENOENT\).*runtime: 'process'/);
  });

  it('CINNAMON_POOL_RUNTIME overrides the option', async () => {
    const decision = await selectRuntime({
      requested: 'docker',
      env: { ...socketEnv, CINNAMON_POOL_RUNTIME: 'process' },
      pingDocker: answers,
      dockerImageAvailable: imagePresent,
    });
    expect(decision).toEqual({ kind: 'process', reason: 'process: requested by CINNAMON_POOL_RUNTIME=process' });
    const auto = await selectRuntime({ requested: 'process', env: { ...socketEnv, CINNAMON_POOL_RUNTIME: 'auto' }, pingDocker: answers, dockerImageAvailable: imagePresent });
    expect(auto.kind).toBe('docker');
  });

  it('rejects an unknown CINNAMON_POOL_RUNTIME value', async () => {
    const result = selectRuntime({ env: { CINNAMON_POOL_RUNTIME: 'podman' }, pingDocker: answers, dockerImageAvailable: imagePresent });
    await expect(result).rejects.toSatisfy((e: unknown) => isPoolError(e, 'INVALID_OPTIONS'));
    await expect(result).rejects.toThrow(/auto, docker, process/);
  });

  it('defaults: the runtime choice and the ping budget come from their named constants', async () => {
    expect(DEFAULT_RUNTIME_CHOICE).toBe('auto');
    const ping = vi.fn(async (_endpoint: DockerEndpoint, _timeoutMs: number) => answers());
    const decision = await selectRuntime({ env: socketEnv, pingDocker: ping, dockerImageAvailable: imagePresent });
    // 'auto' behaviour: the daemon answered and the image is present.
    expect(decision.kind).toBe('docker');
    expect(ping.mock.calls[0]?.[1]).toBe(DEFAULT_DOCKER_PING_TIMEOUT_MS);
  });

  it.each([
    ['requested', { requested: 'podman' as never }],
    ['pingTimeoutMs', { pingTimeoutMs: 0 }],
    ['pingTimeoutMs', { pingTimeoutMs: 1.5 }],
  ])('refuses a bad %s with one INVALID_OPTIONS naming it, before any ping', async (field, options) => {
    const ping = vi.fn(answers);
    const error: unknown = await selectRuntime({ ...options, env: socketEnv, pingDocker: ping, dockerImageAvailable: imagePresent }).catch((e: unknown) => e);
    expect(isPoolError(error, 'INVALID_OPTIONS')).toBe(true);
    expect((error as Error).message.startsWith('Invalid selectRuntime options:\n')).toBe(true);
    expect((error as { data: { problems: string[] } }).data.problems).toEqual([expect.stringMatching(new RegExp(`^${field}: `))]);
    expect(ping).not.toHaveBeenCalled();
  });

  it('the real ping reports ENOENT for a missing socket, quickly', async () => {
    const started = performance.now();
    // A long ping budget: "quickly" means the missing socket is reported at once, not when the ping gives up.
    const decision = await selectRuntime({ env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, dockerImageAvailable: imagePresent, pingTimeoutMs: 20_000 });
    expect(decision).toEqual({ kind: 'process', reason: 'process: no Docker daemon at /nonexistent/docker.sock (ENOENT)' });
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
