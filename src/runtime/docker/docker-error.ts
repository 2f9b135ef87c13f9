import { causeMessage } from '../runtime-error.js';

/** HTTP status of a dockerode (docker-modem) error, if it came from the daemon. */
export function dockerStatusCode(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'statusCode' in error) {
    const code = (error as { statusCode?: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

export function isDockerNotFound(error: unknown): boolean {
  return dockerStatusCode(error) === 404;
}

/** The daemon's own message (docker-modem puts it in `json.message`), else the error's message. */
export const dockerMessage = causeMessage;

/**
 * The fix for a failed Docker call: the caller's when it knows one; a missing daemon gets the same advice
 * everywhere, so it is recognised here; otherwise where to look.
 */
export function dockerFix(cause: unknown, fix?: string): string {
  if (fix) return fix;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES') {
    return 'Is the Docker daemon running and is its socket reachable (DOCKER_HOST or /var/run/docker.sock)? Or use runtime: \'process\'.';
  }
  return 'Check the Docker daemon (docker info) and the container (docker ps -a, docker logs), then retry.';
}
