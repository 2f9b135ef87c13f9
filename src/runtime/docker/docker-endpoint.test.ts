import { describe, expect, it } from 'vitest';
import { dockerEndpoint } from './docker-endpoint.js';

describe('dockerEndpoint', () => {
  it('reads unix sockets from DOCKER_HOST', () => {
    expect(dockerEndpoint({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toEqual({
      description: '/run/user/1000/docker.sock',
      connection: { socketPath: '/run/user/1000/docker.sock' },
    });
  });

  it('reads TCP hosts, with TLS on port 2376 or DOCKER_TLS_VERIFY', () => {
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2375' }).connection).toEqual({ host: '10.0.0.5', port: '2375', protocol: 'http' });
    expect(dockerEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2376' }).connection).toMatchObject({ protocol: 'https' });
    expect(dockerEndpoint({ DOCKER_HOST: '10.0.0.5:2375', DOCKER_TLS_VERIFY: '1' }).connection).toMatchObject({ host: '10.0.0.5', protocol: 'https' });
  });

  it('defaults to a local socket', () => {
    expect(dockerEndpoint({}).description).toMatch(/docker\.sock$/);
  });
});
