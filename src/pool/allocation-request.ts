import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { allocationRequestFields } from '../domain/allocation-request-fields.js';
import { parsePriority, type TestPriority } from '../domain/priority.js';
import type { ResourceRequirements } from '../store/pool-store.js';

/** What a caller asks for. Only testRunId is required. */
export interface AllocationRequestInput {
  testRunId: string;
  /** @defaultValue 'normal' */
  priority?: TestPriority;
  /** Longest wait in the queue, ms. @defaultValue resources.maxWaitTimeMs */
  timeoutMs?: number;
  /** Further waits after a timed-out one. @defaultValue 0 */
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
  const priority = parsePriority(parsed.priority ?? 'normal');
  return {
    testRunId: parsed.testRunId,
    priority,
    timeoutMs: parsed.timeoutMs ?? defaultTimeoutMs,
    maxRetries: parsed.maxRetries ?? 0,
    requiredResources: { ...parsed.requiredResources },
    requestId: parsed.requestId ?? randomUUID(),
    ...(parsed.signal ? { signal: parsed.signal } : {}),
  };
}
