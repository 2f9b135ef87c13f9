import { request } from 'node:http';
import { PoolError } from '../errors/pool-error.js';
import { credentialHeaders } from './member-credentials.js';
import { fencePath } from './mcp-guard.js';

/** @defaultValue 10000 ms: the fence ends the old holder's MCP sessions on the server, each a browser context. */
export const DEFAULT_FENCE_TIMEOUT_MS = 10_000;

export interface FenceResult {
  /** The member's floor now: the lowest lease token its guard admits. */
  floor: number;
  /** Connections of older leases closed, MCP sessions of older leases ended on the server. */
  cut: { connections: number; sessions: number; sessionsNotEnded: number };
}

/** The fence call as the pool depends on it ({@link fenceMember}; unit tests inject a fake). */
export type MemberFence = (target: FenceTarget, floor: number) => Promise<FenceResult>;

export interface FenceTarget {
  /** Pool member id (`container-1`), for the error. */
  containerId: string;
  /** The member's port on 127.0.0.1 (its guard). */
  port: number;
  /** The pool's credential for this member (MemberCredentials.forPool). */
  credential: string;
}

/**
 * Tells a member's guard that every lease below `floor` is over: from now on it admits only tokens from `floor`,
 * closes the older holders' connections and ends their MCP sessions on the server. Resolves once done; throws
 * RUNTIME_ERROR naming the member when the guard cannot be reached or refuses. A plain connection that is closed
 * afterwards: an idle keep-alive socket would look like an open session to cleanup.
 */
export function fenceMember(target: FenceTarget, floor: number, timeoutMs: number = DEFAULT_FENCE_TIMEOUT_MS): Promise<FenceResult> {
  const body = JSON.stringify({ floor });
  const fail = (problem: string, cause?: unknown) =>
    new PoolError(
      'RUNTIME_ERROR',
      `Fence of container ${target.containerId} (port ${target.port}) failed: ${problem}. Fix: the member's guard must answer on 127.0.0.1:${target.port}; the pool resets the member and fences it again.`,
      { containerId: target.containerId, operation: 'fence', floor },
      cause === undefined ? undefined : { cause },
    );
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        method: 'POST',
        path: fencePath(),
        agent: false,
        timeout: timeoutMs,
        headers: { host: `localhost:${target.port}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...credentialHeaders(target.credential) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(fail(`the guard answered HTTP ${res.statusCode}: ${text.trim()}`));
          try {
            resolve(JSON.parse(text) as FenceResult);
          } catch (error) {
            reject(fail(`the guard's answer is not JSON: ${text.slice(0, 200)}`, error));
          }
        });
        res.on('error', (error) => reject(fail(error.message, error)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => reject(fail(error.message, error)));
    req.end(body);
  });
}
