import { request } from 'node:http';
import { credentialHeaders } from './member-credentials.js';

/** A member's guard as the pool calls it: on 127.0.0.1, with the pool's credential for that member. */
export interface GuardTarget {
  /** Pool member id (`container-1`), for errors. */
  containerId: string;
  /** The member's port on 127.0.0.1 (its guard). */
  port: number;
  /** The pool's credential for this member (MemberCredentials.forPool). */
  credential: string;
}

/**
 * POSTs `body` (JSON) to `path` on a member's guard and resolves to the answer's status and text; rejects when
 * the guard cannot be reached or does not answer within `timeoutMs`. A plain connection that is closed
 * afterwards: an idle keep-alive socket would look like an open session to cleanup.
 */
export function postToGuard(target: GuardTarget, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; text: string }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        method: 'POST',
        path,
        agent: false,
        timeout: timeoutMs,
        headers: { host: `localhost:${target.port}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...credentialHeaders(target.credential) },
      },
      (res) => {
        let answer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (answer += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: answer }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(text);
  });
}
