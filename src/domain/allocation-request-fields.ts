import { z } from 'zod';

/**
 * The fields of an allocation request that can cross a process boundary (no `signal`), priority left to the
 * caller: the manager checks it with parsePriority (INVALID_PRIORITY), the coordinator's HTTP body with an enum.
 * Here, below both, because the pool parses them in-process and the protocol layer over HTTP.
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
