/** Exponential backoff: `firstMs` doubled per attempt (0-based), never more than `maxMs`. */
export function backoffDelay(attempt: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, attempt));
}
