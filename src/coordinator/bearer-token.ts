import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh per-run secret: 32 random bytes, URL-safe. */
export function newRunToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * True when the `Authorization` header carries exactly `Bearer <expected>`. Both sides are hashed first so
 * the comparison is constant-time whatever the lengths (timingSafeEqual needs equal lengths, and comparing
 * lengths first would leak the token's length).
 */
export function isAuthorized(header: string | undefined, expected: string): boolean {
  if (typeof header !== 'string') return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  const given = match?.[1] ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given.length > 0;
}
