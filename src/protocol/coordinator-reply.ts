import type { IncomingMessage } from 'node:http';
import { POOL_ERROR_CODES, PoolError, type PoolErrorCode } from '../errors/pool-error.js';
import { errorBodySchema } from './coordinator-api.js';

/*
 * Reading the coordinator's answers on the client side: an error body becomes the PoolError the coordinator
 * raised (same code, message and data), anything else a COORDINATOR_UNAVAILABLE that says what came back.
 */

export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

export function toPoolError(status: number, text: string, what: string): PoolError {
  const parsed = errorBodySchema.safeParse(safeJson(text));
  if (parsed.success) {
    const { code, message, data } = parsed.data.error;
    return new PoolError(knownCode(code), message, { ...data, httpStatus: status });
  }
  return new PoolError('COORDINATOR_UNAVAILABLE', `${what}: the coordinator answered ${status} without an error body: ${text.slice(0, 200)}`, { httpStatus: status });
}

export function knownCode(code: string | undefined): PoolErrorCode {
  return (POOL_ERROR_CODES as readonly string[]).includes(code ?? '') ? (code as PoolErrorCode) : 'COORDINATOR_UNAVAILABLE';
}

export function unreachable(url: URL, error: unknown): PoolError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new PoolError(
    'COORDINATOR_UNAVAILABLE',
    `Cannot reach the pool coordinator at ${url.origin}: ${error instanceof Error ? error.message : String(error)}. ` +
      `It runs in the Playwright runner process; if the run was interrupted or globalSetup failed, see the runner's output.`,
    { url: url.origin, ...(code ? { errno: code } : {}) },
    { cause: error },
  );
}

export function safeJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
