import { PoolError } from '../../errors/pool-error.js';

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
export function dockerMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const json = (error as { json?: unknown }).json;
    if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') {
      return (json as { message: string }).message;
    }
    if (error instanceof Error) return error.message;
  }
  return String(error);
}

/**
 * The one way this runtime reports a failure: RUNTIME_ERROR naming the pool container, the operation and what
 * to do about it. A missing daemon gets the same advice everywhere, so it is recognised here.
 */
export function runtimeError(
  containerId: string,
  operation: string,
  cause: unknown,
  fix?: string,
  data: Record<string, unknown> = {},
): PoolError {
  const detail = cause === undefined ? '' : `: ${dockerMessage(cause)}`;
  const advice = fix ?? adviceFor(cause);
  return new PoolError(
    'RUNTIME_ERROR',
    `Docker runtime: ${operation} of container ${containerId} failed${detail}.${advice ? ` ${advice}` : ''}`,
    { containerId, operation, statusCode: dockerStatusCode(cause), ...data },
    cause === undefined ? undefined : { cause },
  );
}

function adviceFor(cause: unknown): string | undefined {
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES') {
    return 'Is the Docker daemon running and is its socket reachable (DOCKER_HOST or /var/run/docker.sock)? Or use runtime: \'process\'.';
  }
  return undefined;
}
