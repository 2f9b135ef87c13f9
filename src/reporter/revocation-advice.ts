/** The annotation type the fixture gives a test whose lease the pool revoked under it (fixtures/revocation-message.ts). */
const POOL_ANNOTATION_TYPE = 'cinnamon-pool';
/** 'lease revoked: host-lost (member h1-1 on host h1)' → 'host-lost' */
const REVOKED = /^lease revoked: ([a-z-]+)/;

/** Attempts that lost their member to a cause outside the test, by cause ('host-lost', 'failover', 'host-draining'). */
export type RevocationTally = Map<string, number>;

/** Counts an attempt's revocation annotation, if it has one. */
export function tallyRevocation(tally: RevocationTally, annotations: ReadonlyArray<{ type: string; description?: string }>): void {
  for (const a of annotations) {
    if (a.type !== POOL_ANNOTATION_TYPE) continue;
    const cause = REVOKED.exec(a.description ?? '')?.[1];
    if (cause) {
      tally.set(cause, (tally.get(cause) ?? 0) + 1);
      return;
    }
  }
}

/**
 * What the run should hear about tests whose member was taken from them (a lost host, a Redis failover): with
 * no retries they failed the run for nothing they did, so say to set `retries` (never set it for the user);
 * with retries, say Playwright re-ran them. Undefined when nothing was revoked.
 */
export function revocationAdvice(tally: RevocationTally, retries: number): string | undefined {
  const total = [...tally.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const causes = [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([cause, n]) => `${cause} ${n}`).join(', ');
  const what = `${total} test attempt${total === 1 ? '' : 's'} lost ${total === 1 ? 'its' : 'their'} pool member under ${total === 1 ? 'it' : 'them'} (${causes})`;
  if (retries > 0) return `[cinnamon-pool] ${what}; Playwright's retries (${retries}) re-ran them on members of live hosts.\n`;
  return (
    `[cinnamon-pool] ${what} and failed with retries 0: set \`retries: 1\` (or more) in playwright.config.ts so Playwright ` +
    `re-runs such tests on a member of a live host (a shared pool should always run with retries).\n`
  );
}
