import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { newDockerClient } from './docker-client.js';

/** Where the Docker daemon is expected, as dockerode (docker-modem) would pick it. */
export interface DockerEndpoint {
  /** For messages: a socket path or the DOCKER_HOST URL. */
  description: string;
  /** Options for `new Docker(...)` that reach exactly this endpoint. */
  connection: Docker.DockerOptions;
}

export type DockerPingResult = { ok: true } | { ok: false; code: string; message: string };

/**
 * Reads DOCKER_HOST (and DOCKER_TLS_VERIFY / DOCKER_CERT_PATH) from `env` the way docker-modem reads them
 * from process.env: unset means the user's Docker Desktop socket when present, else /var/run/docker.sock.
 * Parsed here rather than left to docker-modem so that an injected env is the one obeyed.
 */
export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (!host) {
    const userSocket = join(homedir(), '.docker', 'run', 'docker.sock');
    const socketPath = existsSync(userSocket) ? userSocket : '/var/run/docker.sock';
    return { description: socketPath, connection: { socketPath } };
  }
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length) || '/var/run/docker.sock';
    return { description: socketPath, connection: { socketPath } };
  }
  const url = new URL(host.includes('//') ? host : `tcp://${host}`);
  if (url.protocol === 'ssh:') {
    return {
      description: host,
      connection: { host: url.hostname, port: url.port || 22, protocol: 'ssh', username: url.username, sshOptions: { agent: env.SSH_AUTH_SOCK } },
    };
  }
  const tls = env.DOCKER_TLS_VERIFY === '1' || url.port === '2376';
  const certPath = env.DOCKER_CERT_PATH;
  const certificates =
    certPath && tls
      ? { ca: readFileSync(join(certPath, 'ca.pem')), cert: readFileSync(join(certPath, 'cert.pem')), key: readFileSync(join(certPath, 'key.pem')) }
      : {};
  return {
    description: host,
    connection: { host: url.hostname, port: url.port || (tls ? 2376 : 2375), protocol: tls ? 'https' : 'http', ...certificates },
  };
}

/** Asks the daemon for `/_ping`, giving up after `timeoutMs` (a hung daemon must not stall the run's start). */
export async function pingDocker(endpoint: DockerEndpoint, timeoutMs: number): Promise<DockerPingResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const docker = newDockerClient({ ...endpoint.connection, timeout: timeoutMs });
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    });
    await Promise.race([docker.ping(), timedOut]);
    return { ok: true };
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { statusCode?: number };
    const code = e.code ?? (e.statusCode !== undefined ? `HTTP ${e.statusCode}` : 'ERROR');
    return { ok: false, code, message: e.message };
  } finally {
    clearTimeout(timer);
  }
}
