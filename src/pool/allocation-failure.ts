import { isPoolError, type PoolErrorCode } from '../errors/pool-error.js';
import type { AllocationRequestInput } from './allocation-request.js';
import { errorMessage, type FailureCategory } from './pool-events.js';

const RESOURCE_CODES: readonly PoolErrorCode[] = ['POOL_DEGRADED', 'CONCURRENCY_LIMIT', 'UNSATISFIABLE_REQUEST'];
const CALLER_CODES: readonly PoolErrorCode[] = ['INVALID_OPTIONS', 'INVALID_PRIORITY', 'INVALID_ARGUMENT', 'DUPLICATE_REQUEST', 'ALLOCATION_CANCELLED'];

export type AllocationFailureKind =
  /** The caller's mistake: audited as refused, not a pool failure. */
  | { kind: 'refused'; code: string; message: string }
  /** `countsTowardDegradation`: false for refusals by degradation itself, or degradation would sustain itself. */
  | { kind: 'failed'; category: FailureCategory; code: string; message: string; countsTowardDegradation: boolean };

/** Pure: what a failed allocation was, from its error. */
export function classifyAllocationFailure(error: unknown): AllocationFailureKind {
  const code = isPoolError(error) ? error.code : undefined;
  const message = errorMessage(error);
  if (code && CALLER_CODES.includes(code)) return { kind: 'refused', code, message };
  const category: FailureCategory = code === 'ALLOCATION_TIMEOUT' ? 'timeout' : code && RESOURCE_CODES.includes(code) ? 'resource' : 'system';
  return { kind: 'failed', category, code: code ?? 'UNKNOWN', message, countsTowardDegradation: code !== 'POOL_DEGRADED' };
}

/** Who asked, for the audit: the request's testRunId when it has one. */
export function requestActor(input: AllocationRequestInput): string {
  return typeof input?.testRunId === 'string' ? input.testRunId : 'unknown';
}
