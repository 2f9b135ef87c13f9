import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { allocationRequestFields } from '../domain/allocation-request-fields.js';
import { parsePriority, type TestPriority } from '../domain/priority.js';
import type { ResourceRequirements } from '../store/pool-store.js';

/** @defaultValue 'normal': the priority of a request that names none. */
export const DEFAULT_ALLOCATION_PRIORITY: TestPriority = 'normal';
/** @defaultValue 0: a timed-out wait is not repeated unless the caller asks. */
export const DEFAULT_ALLOCATION_MAX_RETRIES = 0;

/** What a caller asks for. Only testRunId is required. */
export interface AllocationRequestInput {
  testRunId: string;
  /** @defaultValue {@link DEFAULT_ALLOCATION_PRIORITY} */
  priority?: TestPriority;
  /** Longest wait in the queue, ms. @defaultValue resources.maxWaitTimeMs */
  timeoutMs?: number;
  /** Further waits after a timed-out one. @defaultValue {@link DEFAULT_ALLOCATION_MAX_RETRIES} */
  maxRetries?: number;
  requiredResources?: ResourceRequirements;
  /** Idempotency key; generated when omitted. */
  requestId?: string;
  /** Aborting cancels the waiting request (ALLOCATION_CANCELLED). */
  signal?: AbortSignal;
}

export interface AllocationRequest {
  testRunId: string;
  priority: TestPriority;
  timeoutMs: number;
  maxRetries: number;
  requiredResources: ResourceRequirements;
  requestId: string;
  signal?: AbortSignal;
}

const requestSchema = z
  .object({ ...allocationRequestFields, priority: z.unknown().optional(), signal: z.instanceof(AbortSignal).optional() })
  .strict();

export function parseAllocationRequest(input: unknown, defaultTimeoutMs: number): AllocationRequest {
  const parsed = parseOptions(requestSchema, input, 'allocation request');
  const priority = parsePriority(parsed.priority ?? DEFAULT_ALLOCATION_PRIORITY);
  return {
    testRunId: parsed.testRunId,
    priority,
    timeoutMs: parsed.timeoutMs ?? defaultTimeoutMs,
    maxRetries: parsed.maxRetries ?? DEFAULT_ALLOCATION_MAX_RETRIES,
    requiredResources: { ...parsed.requiredResources },
    requestId: parsed.requestId ?? randomUUID(),
    ...(parsed.signal ? { signal: parsed.signal } : {}),
  };
}
