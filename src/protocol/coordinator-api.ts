import { z } from 'zod';
import { RESET_STRATEGIES, type ResetStrategy } from '../config/schemas.js';
import { allocationRequestFields } from '../domain/allocation-request-fields.js';
import { TEST_PRIORITIES } from '../domain/priority.js';
import type { Allocation } from '../pool/container-pool-manager.js';
import type { RuntimeKind } from '../runtime/container-runtime.js';
import type { Lease } from '../store/pool-store.js';

/**
 * The coordinator's HTTP API, version 1: request bodies (validated with these schemas at the server, so a
 * bad body is a 400 that changed nothing) and response shapes (shared by the client). Every route is under
 * `/v1`; every call carries `Authorization: Bearer <run token>`.
 */
export const API_PREFIX = '/v1';

const leaseRef = z.object({ leaseId: z.string().min(1).max(200), token: z.number().int().nonnegative() }).strict();
const ms = z.number().int().positive().finite();

export const allocateBodySchema = z.object({ ...allocationRequestFields, priority: z.enum(TEST_PRIORITIES).optional() }).strict();
export type AllocateBody = z.input<typeof allocateBodySchema>;

export const tokenBodySchema = z.object({ token: z.number().int().nonnegative() }).strict();

/** `ttlMs`: a worker being debugged asks for a long lease (up to `lease.debugTtlMs`, checked by the pool). */
export const renewBodySchema = z.object({ token: z.number().int().nonnegative(), ttlMs: ms.optional() }).strict();
export type RenewBody = z.input<typeof renewBodySchema>;

export const resetBodySchema = z.object({ token: z.number().int().nonnegative(), strategy: z.enum(RESET_STRATEGIES) }).strict();

/** Shortest trace read budget the coordinator accepts, ms (the client raises a smaller one to this). */
export const MIN_TRACE_BUDGET_MS = 100;
/** Longest trace read budget the coordinator accepts, ms (the client lowers a larger one to this). */
export const MAX_TRACE_BUDGET_MS = 120_000;

/** POST /v1/leases/:id/trace: a trace the holder recorded in its container; `budgetMs` bounds the read. */
export const traceBodySchema = z
  .object({ token: z.number().int().nonnegative(), trace: z.string().regex(/^trace-\d{1,16}$/), budgetMs: z.number().int().min(MIN_TRACE_BUDGET_MS).max(MAX_TRACE_BUDGET_MS) })
  .strict();
export type TraceBody = z.input<typeof traceBodySchema>;

/** The trace's files, base64, named relative to the trace folder. */
export interface TraceResponse {
  files: Array<{ name: string; base64: string }>;
}

export const extensionBodySchema = z
  .object({
    testRunId: z.string().min(1).max(512),
    justification: z.string().max(2_000),
    requestedMs: ms.optional(),
    currentTimeoutMs: ms.optional(),
    lease: leaseRef.optional(),
  })
  .strict();
export type ExtensionBody = z.input<typeof extensionBodySchema>;

export const executionBodySchema = z
  .object({ testId: z.string().min(1).max(2_000), durationMs: z.number().nonnegative().finite() })
  .strict();
export type ExecutionBody = z.input<typeof executionBodySchema>;

export interface AllocateResponse {
  allocation: Allocation;
  /** Where the container runs: 'docker' means a host URL must use host.docker.internal to be reached. */
  runtime: RuntimeKind;
}

export interface RenewResponse {
  lease: Lease;
  /**
   * True when the holder should hand the container back at its next test boundary: a request of higher
   * priority waits, or one of equal priority has waited `resources.handBackAfterMs` (src/pool/hand-back-policy.ts).
   */
  contended: boolean;
  /** Waiting requests: all, and those of equal or higher priority than the lease. */
  waiting: { total: number; atOrAbove: number };
}

export interface ReleaseResponse {
  lease: Lease;
  heldMs: number;
}

export interface CoordinatorInfo {
  apiVersion: 1;
  poolId: string;
  runId: string;
  /** The pool option `runGroup` (the CI build this run is a shard of); absent: none. */
  runGroup?: string;
  runtime: RuntimeKind;
  containers: number;
  leaseTtlMs: number;
  /** The longest time to live a renewal may ask for (`lease.debugTtlMs`): what a worker being debugged uses. */
  leaseDebugTtlMs: number;
  maxWaitTimeMs: number;
  /** True after the run's teardown: only status, analytics and audit (a final snapshot) are still served. */
  final: boolean;
}

/** Server-sent events of `GET /v1/leases/:id/events`. The stream ends after the first of them. */
export type LeaseEvent =
  | { type: 'revoked'; leaseId: string; containerId: string; reason: string }
  | { type: 'expired'; leaseId: string; containerId: string }
  | { type: 'released'; leaseId: string; containerId: string };

export const leaseEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('revoked'), leaseId: z.string(), containerId: z.string(), reason: z.string() }),
  z.object({ type: z.literal('expired'), leaseId: z.string(), containerId: z.string() }),
  z.object({ type: z.literal('released'), leaseId: z.string(), containerId: z.string() }),
]);

export const errorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), data: z.record(z.string(), z.unknown()).optional() }),
});

export type { ResetStrategy };
