import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { isPoolError, PoolError } from '../errors/pool-error.js';

/** @defaultValue 64 KiB: the largest request body accepted (the biggest real one is a justification). */
export const MAX_BODY_BYTES = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) {
      throw new PoolError('INVALID_ARGUMENT', `Request body over ${MAX_BODY_BYTES} bytes; nothing was changed.`, { status: 413, limit: MAX_BODY_BYTES });
    }
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PoolError('INVALID_ARGUMENT', `Request body is not JSON (${error instanceof Error ? error.message : String(error)}); nothing was changed.`, {});
  }
}

/** Validates a body; a failure is INVALID_ARGUMENT naming each bad field, and the call changes nothing. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  if (body === undefined) throw new PoolError('INVALID_ARGUMENT', `The ${what} needs a JSON body; nothing was changed.`, {});
  try {
    return parseOptions(schema, body, what);
  } catch (error) {
    if (isPoolError(error, 'INVALID_OPTIONS')) throw new PoolError('INVALID_ARGUMENT', error.message, { ...error.data });
    throw error;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
