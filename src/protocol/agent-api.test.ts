import { describe, expect, it } from 'vitest';
import { PoolError } from '../errors/pool-error.js';
import { AGENT_API_PATHS, agentErrorBodySchema, agentResetBodySchema, agentTraceBodySchema } from './agent-api.js';
import { httpStatusOf } from './http-error-status.js';

describe('agent control API (issue 11)', () => {
  it('has versioned paths for reset and trace', () => {
    expect(AGENT_API_PATHS).toEqual({ reset: '/v1/reset', trace: '/v1/trace' });
  });

  it('accepts a holder\'s reset and refuses unknown strategies, extra fields and token 0', () => {
    const body = { containerId: 'h1-0', leaseId: 'l-1', token: 3, strategy: 'medium' };
    expect(agentResetBodySchema.parse(body)).toEqual(body);
    expect(agentResetBodySchema.parse({ ...body, holder: 'worker-1' }).holder).toBe('worker-1');
    expect(agentResetBodySchema.safeParse({ ...body, strategy: 'nuke' }).success).toBe(false);
    expect(agentResetBodySchema.safeParse({ ...body, extra: 1 }).success).toBe(false);
    expect(agentResetBodySchema.safeParse({ ...body, token: 0 }).success).toBe(false);
  });

  it('accepts only trace names @playwright/mcp gives and a bounded budget', () => {
    const body = { containerId: 'h1-0', leaseId: 'l-1', token: 3, traceName: 'trace-1700000000000', budgetMs: 5000 };
    expect(agentTraceBodySchema.parse(body)).toEqual(body);
    expect(agentTraceBodySchema.safeParse({ ...body, traceName: '../etc/passwd' }).success).toBe(false);
    expect(agentTraceBodySchema.safeParse({ ...body, budgetMs: 10 }).success).toBe(false);
  });

  it('carries a PoolError as its JSON, with the status of its code', () => {
    const error = new PoolError('UNAUTHORIZED', 'no credential', { containerId: 'h1-0' });
    const parsed = agentErrorBodySchema.parse(JSON.parse(JSON.stringify({ error })));
    expect(parsed.error).toEqual({ code: 'UNAUTHORIZED', message: 'no credential', data: { containerId: 'h1-0' } });
    expect(httpStatusOf(parsed.error.code as 'UNAUTHORIZED')).toBe(401);
  });
});
