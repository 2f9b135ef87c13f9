import { describe, expect, it } from 'vitest';
import { isPoolError } from '../errors/pool-error.js';
import { toPoolError, unreachable } from './coordinator-reply.js';

describe('toPoolError', () => {
  it('rebuilds the PoolError the coordinator sent: code, message and data, plus the HTTP status', () => {
    const body = JSON.stringify({ error: { code: 'STALE_TOKEN', message: 'Token 3 does not hold lease-1.', data: { leaseId: 'lease-1' } } });
    const error = toPoolError(409, body, 'POST /v1/leases/lease-1/renew');
    expect(isPoolError(error, 'STALE_TOKEN')).toBe(true);
    expect(error.message).toBe('Token 3 does not hold lease-1.');
    expect(error.data).toEqual({ leaseId: 'lease-1', httpStatus: 409 });
  });

  it('turns a code this client does not know, or an answer without an error body, into COORDINATOR_UNAVAILABLE', () => {
    const newer = toPoolError(503, JSON.stringify({ error: { code: 'SOMETHING_NEWER', message: 'later' } }), 'GET /v1/status');
    expect(newer.code).toBe('COORDINATOR_UNAVAILABLE');
    expect(newer.message).toBe('later');
    const proxy = toPoolError(502, '<html>Bad Gateway</html>', 'GET /v1/status');
    expect(proxy.code).toBe('COORDINATOR_UNAVAILABLE');
    expect(proxy.message).toMatch(/^GET \/v1\/status: the coordinator answered 502 without an error body: <html>Bad Gateway/);
    expect(proxy.data).toEqual({ httpStatus: 502 });
  });
});

describe('unreachable', () => {
  it('names the coordinator and keeps the errno and the cause', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const error = unreachable(new URL('http://127.0.0.1:9'), cause);
    expect(error.code).toBe('COORDINATOR_UNAVAILABLE');
    expect(error.message).toMatch(/^Cannot reach the pool coordinator at http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED/);
    expect(error.data).toEqual({ url: 'http://127.0.0.1:9', errno: 'ECONNREFUSED' });
    expect(error.cause).toBe(cause);
  });
});
