import { PoolError } from '../errors/pool-error.js';
import type { RuntimeKind } from './container-runtime.js';

export interface RuntimeFailure {
  /** Pool container id (`container-1`); absent when the failure concerns no single container (close, reaping). */
  containerId?: string;
  /** What was being done: `start`, `exec of "sh"`, `create network …`. */
  stage: string;
  /** What went wrong. @defaultValue the cause's message */
  problem?: string;
  /** What the user does about it, as a sentence. */
  fix: string;
  cause?: unknown;
  /** Extra fields for PoolError.data (e.g. `timedOut`, `exitCode`). */
  data?: Record<string, unknown>;
}

/**
 * The one way a runtime reports a failure: RUNTIME_ERROR whose message names the runtime, the container, the
 * stage, what went wrong and the fix, always in that order:
 * `Docker runtime: start of container container-1 failed: port is already allocated. Fix: free the port ….`
 */
export function runtimeError(runtime: Exclude<RuntimeKind, 'fake'>, failure: RuntimeFailure): PoolError {
  const { containerId, stage, cause, fix, data = {} } = failure;
  const problem = failure.problem ?? (cause === undefined ? 'unknown reason' : causeMessage(cause));
  const label = runtime === 'docker' ? 'Docker' : 'Process';
  return new PoolError(
    'RUNTIME_ERROR',
    `${label} runtime: ${stage}${containerId === undefined ? '' : ` of container ${containerId}`} failed: ${sentence(problem)} Fix: ${sentence(fix)}`,
    { containerId, operation: stage, runtime, ...data },
    cause === undefined ? undefined : { cause },
  );
}

/** The message of a thrown value; a daemon's own words (docker-modem keeps them in `json.message`) first. */
export function causeMessage(cause: unknown): string {
  if (typeof cause === 'object' && cause !== null) {
    const json = (cause as { json?: unknown }).json;
    if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') {
      return (json as { message: string }).message;
    }
    if (cause instanceof Error) return cause.message;
  }
  return String(cause);
}

/** Trimmed, ending in one full stop (or the question/exclamation mark it already has). */
function sentence(text: string): string {
  const trimmed = text.trim().replace(/\.+$/, '');
  return /[?!]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
