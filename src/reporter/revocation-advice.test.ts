import { describe, expect, it } from 'vitest';
import { revocationAdvice, tallyRevocation, type RevocationTally } from './revocation-advice.js';

const hostLost = { type: 'cinnamon-pool', description: 'lease revoked: host-lost (member h1-1 on host h1)' };
const failover = { type: 'cinnamon-pool', description: 'lease revoked: failover (member h2-1)' };

describe('revocations in the pool reporter', () => {
  it('counts attempts by cause, from the fixture\'s annotation only', () => {
    const tally: RevocationTally = new Map();
    tallyRevocation(tally, [hostLost]);
    tallyRevocation(tally, [{ type: 'pool.container', description: 'x' }, hostLost]);
    tallyRevocation(tally, [failover, hostLost]); // one attempt counts once
    tallyRevocation(tally, [{ type: 'cinnamon-pool', description: 'something else' }, { type: 'slow' }]);
    expect([...tally]).toEqual([
      ['host-lost', 2],
      ['failover', 1],
    ]);
  });

  it('with retries 0 says to set retries; with retries says they re-ran; silent when nothing was revoked', () => {
    const tally: RevocationTally = new Map([['host-lost', 1]]);
    expect(revocationAdvice(tally, 0)).toBe(
      '[cinnamon-pool] 1 test attempt lost its pool member under it (host-lost 1) and failed with retries 0: set `retries: 1` (or more) in playwright.config.ts so Playwright re-runs such tests on a member of a live host (a shared pool should always run with retries).\n',
    );
    tally.set('failover', 2);
    expect(revocationAdvice(tally, 1)).toBe("[cinnamon-pool] 3 test attempts lost their pool member under them (failover 2, host-lost 1); Playwright's retries (1) re-ran them on members of live hosts.\n");
    expect(revocationAdvice(new Map(), 0)).toBeUndefined();
  });
});
