import { z } from 'zod';
import { RESET_STRATEGIES } from '../config/schemas.js';
import type { PoolErrorCode } from '../errors/pool-error.js';
import type { ResetResult } from '../cleanup/cleanup-types.js';
import { MAX_TRACE_BUDGET_MS, MIN_TRACE_BUDGET_MS } from './coordinator-api.js';

/**
 * The host agent's control API, version 1 (issue 11): what a shard's coordinator asks of the agent that owns a
 * leased member, for its holder (a reset in place, reading a recorded trace). The agent listens on its advertised
 * address; `HostRecord.controlUrl` names the base URL.
 *
 * Authentication: every call carries `Authorization: Bearer <credential>` with the lease's credential — the same
 * cq1 credential the holder sends the member's guard (`MemberCredentials.forLease`, signed with the pool's shared
 * key). The agent admits a call only when the credential's signature matches the pool's public key, it names the
 * body's `containerId`, `leaseId` and `token` (claims `r: 'lease'`), and the store holds that lease active with
 * that token. Anything else: 401 (no or bad credential) or the store's own refusal (409/410 for a lease that
 * ended or a stale token, 404 for an unknown one).
 *
 * Errors: status {@link httpStatusOf}(code) (src/protocol/http-error-status.ts), body {@link AgentErrorBody}.
 */
export const AGENT_API_PREFIX = '/v1';

export const AGENT_API_PATHS = {
  /** POST {@link AgentResetBody} → {@link AgentResetResponse}. */
  reset: `${AGENT_API_PREFIX}/reset`,
  /** POST {@link AgentTraceBody} → {@link AgentTraceResponse}. */
  trace: `${AGENT_API_PREFIX}/trace`,
} as const;

/** Largest request body the agent reads, bytes: bodies are a few hundred bytes. */
export const AGENT_MAX_BODY_BYTES = 16 * 1024;

const leaseFields = {
  containerId: z.string().min(1).max(200),
  leaseId: z.string().min(1).max(200),
  token: z.number().int().positive(),
};

/** POST /v1/reset: reset the holder's member in place. `holder`: audited as the actor (a worker or test id). */
export const agentResetBodySchema = z
  .object({ ...leaseFields, strategy: z.enum(RESET_STRATEGIES), holder: z.string().min(1).max(500).optional() })
  .strict();
export type AgentResetBody = z.input<typeof agentResetBodySchema>;
/** The reset's outcome, as the pool's ContainerResetManager reports it. */
export type AgentResetResponse = ResetResult;

/** POST /v1/trace: read the files of a trace the holder recorded (`trace-<digits>`), within `budgetMs`. */
export const agentTraceBodySchema = z
  .object({
    ...leaseFields,
    traceName: z.string().regex(/^trace-\d{1,16}$/),
    budgetMs: z.number().int().min(MIN_TRACE_BUDGET_MS).max(MAX_TRACE_BUDGET_MS),
  })
  .strict();
export type AgentTraceBody = z.input<typeof agentTraceBodySchema>;

/**
 * The trace's files, named relative to the trace folder (TraceFile.name). `base64` is the file's bytes in standard
 * base64: `Buffer.from(file.base64, 'base64')` gives TraceFile.data back.
 */
export interface AgentTraceResponse {
  files: Array<{ name: string; base64: string }>;
}

export const agentTraceResponseSchema = z
  .object({ files: z.array(z.object({ name: z.string().min(1), base64: z.string() }).strict()) })
  .strict();

/** Every refusal: a PoolError's toJSON(). */
export interface AgentErrorBody {
  error: { code: PoolErrorCode; message: string; data: Record<string, unknown> };
}

export const agentErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), data: z.record(z.string(), z.unknown()).default({}) }),
});
