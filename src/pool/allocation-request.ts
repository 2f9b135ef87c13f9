import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
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

/**
 * The fields of an allocation request that can cross a process boundary (no `signal`), priority left to the
 * caller: the manager checks it with parsePriority (INVALID_PRIORITY), the coordinator's HTTP body with an enum.
 */
export const allocationRequestFields = {
  testRunId: z.string().min(1).max(512),
  timeoutMs: z.number().int().positive().finite().optional(),
  maxRetries: z.number().int().min(0).max(100).optional(),
  requiredResources: z
    .object({ minMemoryMB: z.number().nonnegative().finite().optional(), maxCpuPercent: z.number().nonnegative().finite().optional() })
    .strict()
    .optional(),
  requestId: z.string().min(1).max(200).optional(),
};

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
