import { POOL_ERROR_CODES, PoolError, type PoolErrorCode } from '../errors/pool-error.js';
import { agentErrorBodySchema } from '../protocol/agent-api.js';
import { credentialHeaders } from '../runtime/member-credentials.js';
import { safeJson } from '../protocol/coordinator-reply.js';

/** Who is asked: for messages. */
export interface AgentTarget {
  hostId: string;
  controlUrl: string;
}

/**
 * One call of a host agent's control API (src/protocol/agent-api.ts) with a lease's credential: resolves with the
 * parsed JSON answer; a refusal becomes the PoolError the agent raised (same code, message and data); an agent
 * that cannot be reached or answers something else is a RUNTIME_ERROR naming the host, its control URL and the fix.
 */
export async function callAgent(
  target: AgentTarget,
  path: string,
  body: Record<string, unknown>,
  credential: string,
  budgetMs: number,
  fetchImpl: typeof fetch = fetch,
): Promise<unknown> {
  const url = new URL(path, target.controlUrl);
  let response: Response;
  let text: string;
  try {
    response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...credentialHeaders(credential) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(budgetMs),
    });
    text = await response.text();
  } catch (error) {
    throw new PoolError(
      'RUNTIME_ERROR',
      `The host agent of ${target.hostId} at ${target.controlUrl} did not answer ${path}: ${error instanceof Error ? error.message : String(error)}. ` +
        `Check that \`cinnamon-pool agent\` runs on that host and that this machine reaches its control port.`,
      { hostId: target.hostId, controlUrl: target.controlUrl, path },
      { cause: error },
    );
  }
  const json = safeJson(text);
  if (response.ok && json !== undefined) return json;
  const refusal = agentErrorBodySchema.safeParse(json);
  if (refusal.success) {
    const { code, message, data } = refusal.data.error;
    return Promise.reject(new PoolError(agentCode(code), message, { ...data, hostId: target.hostId, httpStatus: response.status }));
  }
  throw new PoolError(
    'RUNTIME_ERROR',
    `The host agent of ${target.hostId} at ${target.controlUrl} answered ${path} with ${response.status} and no agent API body: ${text.slice(0, 200)}. ` +
      `Check that the control URL is the agent's (same package version on both machines).`,
    { hostId: target.hostId, controlUrl: target.controlUrl, path, httpStatus: response.status },
  );
}

function agentCode(code: string): PoolErrorCode {
  return (POOL_ERROR_CODES as readonly string[]).includes(code) ? (code as PoolErrorCode) : 'RUNTIME_ERROR';
}
