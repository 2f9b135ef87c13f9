import { z } from 'zod';
import { PoolError } from '../errors/pool-error.js';

/**
 * Parses `input` with `schema`, or throws one INVALID_OPTIONS PoolError that lists every bad path with what
 * was given and what is allowed. `what` names the options object in the message ("pool options").
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => describeIssue(issue, input));
  throw new PoolError('INVALID_OPTIONS', `Invalid ${what}:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
    what,
    problems,
  });
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  const given = valueAt(input, issue.path);
  const givenText = given === undefined ? '' : ` (got ${safeJson(given)})`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${path === '(root)' ? '' : `${path}: `}unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys
        .map((k) => `'${k}'`)
        .join(', ')}; check the spelling against the configuration table in the README`;
    case 'invalid_value':
      return `${path}: must be one of ${issue.values.map((v) => safeJson(v)).join(', ')}${givenText}`;
    default:
      return `${path}: ${issue.message}${givenText}`;
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function safeJson(value: unknown): string {
  try {
    return typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
