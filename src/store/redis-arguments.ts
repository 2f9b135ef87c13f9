import { PoolError } from '../errors/pool-error.js';

/*
 * Checks on the arguments of each Redis store call. Numbers go into Lua and JSON: NaN and Infinity would not
 * survive the trip (JSON writes them as null), so the Redis store refuses them with INVALID_ARGUMENT. These run
 * on every call, so they are plain checks rather than schemas.
 */

export function invalidArgument(name: string, value: unknown, expected: string): PoolError {
  return new PoolError('INVALID_ARGUMENT', `${name} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}.`, { name, value });
}

export function finite(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(name, value, 'a finite number');
  return value;
}

export function positiveFinite(name: string, value: number): number {
  if (finite(name, value) <= 0) throw invalidArgument(name, value, 'a positive number');
  return value;
}

export function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw invalidArgument(name, value, 'a positive integer');
  return value;
}

export function nonEmpty(name: string, value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(name, value, 'a non-empty string');
  return value;
}

/** A request's tenant fields as the Redis store writes them: '' (the default tenant) left out, a quota a positive integer. */
export function tenantArguments(request: { tenant?: string; tenantQuota?: number }): { tenant?: string; tenantQuota?: number } {
  const out: { tenant?: string; tenantQuota?: number } = {};
  if (request.tenant !== undefined) {
    if (typeof request.tenant !== 'string') throw invalidArgument('tenant', request.tenant, 'a string');
    if (request.tenant !== '') out.tenant = request.tenant;
  }
  if (request.tenantQuota !== undefined) out.tenantQuota = positiveInteger('tenantQuota', request.tenantQuota);
  return out;
}
