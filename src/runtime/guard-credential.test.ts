import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialDecision, newCredentialKeys, signCredential, type CredentialClaims, type CredentialDecision } from './mcp-guard.js';

// Property tests of the guard's credential rule (docker/image/guard-credential.cjs credentialDecision, issue 10): what
// a genuine credential, a tampered one, one of another member or run, an ended lease and a rolled-back token get.

type LeaseClaims = Extract<CredentialClaims, { r: 'lease' }>;

interface Genuine {
  key: string;
  member: string;
  claims: LeaseClaims;
  credential: string;
}

// A few pool runs' key pairs (Ed25519 key generation is too slow to do per property run); a key is named by its
// public half, which is what the guard holds.
const PAIRS = Array.from({ length: 4 }, () => newCredentialKeys());
const privateOf = new Map(PAIRS.map((pair) => [pair.publicKey, pair.privateKey]));
const sign = (key: string, claims: CredentialClaims) => signCredential(privateOf.get(key)!, claims);
const keyArb = fc.constantFrom(...PAIRS.map((pair) => pair.publicKey));
const memberArb = fc.oneof(fc.integer({ min: 1, max: 999 }).map((n) => `container-${n}`), fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' }));
const leaseIdArb = fc.oneof(fc.uuid(), fc.string({ maxLength: 32 }));
const tokenArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

const genuineArb: fc.Arbitrary<Genuine> = fc.record({ secret: keyArb, member: memberArb, l: leaseIdArb, t: tokenArb }).map(({ secret, member, l, t }) => {
  const key = secret;
  const claims: LeaseClaims = { m: member, r: 'lease', l, t };
  return { key, member, claims, credential: sign(key, claims) };
});

const bearer = (credential: string) => `Bearer ${credential}`;
const encodeClaims = (claims: unknown) => Buffer.from(JSON.stringify(claims)).toString('base64url');

function parts(credential: string): [string, string, string] {
  const [version, claims, signature] = credential.split('.');
  return [version!, claims!, signature!];
}

/** The same credential with its claims replaced and its signature kept (what a forger without the key can do). */
function withClaims(g: Genuine, claims: unknown): string {
  const [version, , signature] = parts(g.credential);
  return bearer(`${version}.${encodeClaims(claims)}.${signature}`);
}

function refused(decision: CredentialDecision): Extract<CredentialDecision, { admit: false }> {
  expect(decision.admit).toBe(false);
  if (decision.admit) throw new Error('admitted');
  expect(decision.why).toEqual(expect.any(String));
  return decision;
}

/** One way of altering a genuine credential or its header; `apply` returns the Authorization header sent. */
interface Mutation {
  name: string;
  apply(g: Genuine): string | undefined;
}

const mutation = (name: string, apply: (g: Genuine) => string | undefined): Mutation => ({ name, apply });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  memberArb.map((m) => mutation(`member ${JSON.stringify(m)}`, (g) => withClaims(g, { ...g.claims, m: m === g.member ? `${m}x` : m }))),
  fc.constantFrom('pool', 'admin', 'LEASE', '').map((r) => mutation(`role ${r}`, (g) => withClaims(g, { ...g.claims, r }))),
  fc.constant(mutation('role pool without lease fields', (g) => withClaims(g, { m: g.member, r: 'pool' }))),
  leaseIdArb.map((l) => mutation(`lease id ${JSON.stringify(l)}`, (g) => withClaims(g, { ...g.claims, l: l === g.claims.l ? `${l}x` : l }))),
  tokenArb.map((t) => mutation(`token ${t}`, (g) => withClaims(g, { ...g.claims, t: t === g.claims.t ? t + 1 : t }))),
  fc.constantFrom<unknown>(0, -1, 1.5, '7', null, 2 ** 53, [1]).map((t) => mutation(`token ${JSON.stringify(t)}`, (g) => withClaims(g, { ...g.claims, t }))),
  fc.constant(mutation('an extra claim', (g) => withClaims(g, { ...g.claims, admin: true }))),
  fc.record({ at: fc.nat(31), bit: fc.integer({ min: 0, max: 7 }) }).map(({ at, bit }) =>
    mutation(`signature byte ${at} bit ${bit}`, (g) => {
      const [version, claims, signature] = parts(g.credential);
      const bytes = Buffer.from(signature, 'base64url');
      bytes[at] = bytes[at]! ^ (1 << bit);
      return bearer(`${version}.${claims}.${bytes.toString('base64url')}`);
    }),
  ),
  fc.uint8Array({ minLength: 1, maxLength: 4 }).map((extra) =>
    mutation('signature longer by bytes', (g) => {
      const [version, claims, signature] = parts(g.credential);
      return bearer(`${version}.${claims}.${Buffer.concat([Buffer.from(signature, 'base64url'), extra]).toString('base64url')}`);
    }),
  ),
  fc.integer({ min: 1, max: 31 }).map((keep) =>
    mutation(`signature cut to ${keep} bytes`, (g) => {
      const [version, claims, signature] = parts(g.credential);
      return bearer(`${version}.${claims}.${Buffer.from(signature, 'base64url').subarray(0, keep).toString('base64url')}`);
    }),
  ),
  fc.oneof(fc.constantFrom('cq2', 'CQ1', 'cq0', '', 'cq1 '), fc.string({ maxLength: 6 })).map((tag) =>
    mutation(`version tag ${JSON.stringify(tag)}`, (g) => {
      const [, claims, signature] = parts(g.credential);
      return bearer(`${tag === 'cq1' ? 'cq' : tag}.${claims}.${signature}`);
    }),
  ),
  fc.string({ maxLength: 80 }).map((garbage) =>
    mutation(`claims ${JSON.stringify(garbage)}`, (g) => {
      const [version, claims, signature] = parts(g.credential);
      return bearer(`${version}.${garbage === claims ? `${garbage}A` : garbage}.${signature}`);
    }),
  ),
  fc.constantFrom(0, 1, 2).map((drop) => mutation(`part ${drop} dropped`, (g) => bearer(parts(g.credential).filter((_, i) => i !== drop).join('.')))),
  fc.constantFrom('append', 'prepend', 'double').map((where) =>
    mutation(`extra dot (${where})`, (g) => bearer(where === 'append' ? `${g.credential}.` : where === 'prepend' ? `.${g.credential}` : g.credential.replace('.', '..'))),
  ),
  fc.nat().map((cut) => mutation(`credential cut to a prefix`, (g) => bearer(g.credential.slice(0, cut % g.credential.length)))),
  fc.integer({ min: 2049, max: 20_000 }).map((size) => mutation(`header of ${size} characters`, (g) => `Bearer ${' '.repeat(size)}${g.credential}`)),
  fc.constantFrom('Basic ', 'Token ', 'Bearer: ', 'Bearer\t', 'Bearer', 'BearerX ', '', 'Bearer cq1 ').map((scheme) =>
    mutation(`scheme ${JSON.stringify(scheme)}`, (g) => `${scheme}${g.credential}`),
  ),
  fc.constantFrom(undefined, '', 'Bearer ', 'Bearer').map((header) => mutation(`header ${JSON.stringify(header)}`, () => header)),
);

describe('credentialDecision (lease credential at the guard): genuine credentials', () => {
  it('admits a genuine lease credential at or above the floor and raises the floor to its token', () => {
    fc.assert(
      fc.property(genuineArb, fc.double({ min: 0, max: 1, noNaN: true }), (g, at) => {
        const floor = Math.max(1, Math.floor(g.claims.t * at));
        const decision = credentialDecision(g.key, g.member, floor, bearer(g.credential));
        expect(decision).toEqual({ admit: true, claims: g.claims, floor: g.claims.t });
      }),
    );
  });

  it('admits a pool credential whatever the floor (closed, low or far above any token) and leaves the floor as it is', () => {
    fc.assert(
      fc.property(keyArb, memberArb, fc.option(tokenArb, { nil: null }), (secret, member, floor) => {
        const key = secret;
        const decision = credentialDecision(key, member, floor, bearer(sign(key, { m: member, r: 'pool' })));
        expect(decision).toEqual({ admit: true, claims: { m: member, r: 'pool' }, floor });
      }),
    );
  });

  it('reads the scheme case-insensitively and allows several spaces after it (RFC 9110 §11.1, §11.4)', () => {
    fc.assert(
      fc.property(genuineArb, fc.constantFrom('bearer', 'BEARER', 'bEaReR'), fc.integer({ min: 1, max: 8 }), (g, scheme, spaces) => {
        expect(credentialDecision(g.key, g.member, 1, `${scheme}${' '.repeat(spaces)}${g.credential}`).admit).toBe(true);
      }),
    );
  });
});

describe('credentialDecision: tampered, foreign and malformed credentials', () => {
  it('refuses any single alteration of a genuine credential or its header, with a reason naming the member', () => {
    fc.assert(
      fc.property(genuineArb, mutationArb, (g, m) => {
        const header = m.apply(g);
        expect(header).not.toBe(bearer(g.credential));
        const decision = refused(credentialDecision(g.key, g.member, 1, header));
        expect(decision.why).toContain('pool member');
        expect(decision.why).toContain(g.member);
        // Only a genuine credential of an ended lease is "ended"; an altered one is not a lease at all.
        expect(decision.ended).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
  });

  it('refuses a credential signed with another pool run\'s key, and a genuine one of another member', () => {
    fc.assert(
      fc.property(keyArb, keyArb, memberArb, memberArb, leaseIdArb, tokenArb, (secret, otherSecret, member, other, l, t) => {
        fc.pre(secret !== otherSecret && member !== other);
        const key = secret;
        const claims: LeaseClaims = { m: member, r: 'lease', l, t };
        for (const forgedWith of [otherSecret]) {
          for (const c of [claims, { m: member, r: 'pool' } as const]) {
            expect(refused(credentialDecision(key, member, 1, bearer(sign(forgedWith, c)))).why).toMatch(/signature does not match/);
          }
        }
        // A genuine credential of the other member, shown to this one.
        const theirs = sign(secret, { ...claims, m: other });
        expect(refused(credentialDecision(key, member, 1, bearer(theirs))).why).toContain(`it is for pool member ${other}, this is ${member}`);
      }),
    );
  });

  it('refuses a genuinely signed credential whose claims are not a lease or pool credential', () => {
    fc.assert(
      fc.property(
        keyArb,
        memberArb,
        fc.constantFrom<(m: string) => unknown>(
          () => null,
          () => 'container-1',
          (m) => [m],
          (m) => ({ m }),
          (m) => ({ m, r: 'lease' }),
          (m) => ({ m, r: 'lease', l: 'L', t: 0 }),
          (m) => ({ m, r: 'lease', l: 7, t: 3 }),
          (m) => ({ m, r: 'lease', l: 'L', t: 2 ** 53 }),
          (m) => ({ m, r: 'root' }),
          () => ({ m: 1, r: 'pool' }),
        ),
        (secret, member, claimsOf) => {
          const key = secret;
          const credential = sign(key, claimsOf(member) as CredentialClaims);
          expect(refused(credentialDecision(key, member, 1, bearer(credential))).why).toMatch(/^malformed credential/);
        },
      ),
    );
  });

  it('refuses a genuinely signed credential longer than 2048 characters', () => {
    const key = PAIRS[0]!.publicKey;
    const credential = sign(key, { m: 'container-1', r: 'lease', l: 'L'.repeat(2_048), t: 3 });
    expect(refused(credentialDecision(key, 'container-1', 1, bearer(credential))).why).toMatch(/^malformed credential/);
  });

  // Node's base64url decoder skips characters outside the alphabet and ignores the unused low bits of the last
  // character: the guard compares the signature's text as well, so no other spelling of a signature passes.
  it('refuses a signature whose text was altered but decodes to the same bytes', () => {
    fc.assert(
      fc.property(genuineArb, fc.constantFrom('=', '==', '!', '%', '*'), fc.nat(43), (g, junk, at) => {
        const [version, claims, signature] = parts(g.credential);
        const header = bearer(`${version}.${claims}.${signature.slice(0, at)}${junk}${signature.slice(at)}`);
        refused(credentialDecision(g.key, g.member, 1, header));
      }),
    );
  });
});

describe('credentialDecision: the floor (lease end, replay, rollback, closed guard)', () => {
  it('refuses the replay of a lease credential once the floor is raised above its token, saying the lease has ended', () => {
    fc.assert(
      fc.property(genuineArb, fc.integer({ min: 1, max: 1_000 }), (g, above) => {
        fc.pre(g.claims.t + above <= Number.MAX_SAFE_INTEGER);
        const admitted = credentialDecision(g.key, g.member, g.claims.t, bearer(g.credential));
        expect(admitted.admit).toBe(true);
        // The lease is released: the pool fences the member at a later token.
        const replay = refused(credentialDecision(g.key, g.member, g.claims.t + above, bearer(g.credential)));
        expect(replay.ended).toBe(true);
        expect(replay.why).toContain(`lease ${g.claims.l} (token ${g.claims.t}) on pool member ${g.member} has ended`);
      }),
    );
  });

  it('never admits a lower token after a higher one (no rollback), whatever the order of tokens and fences', () => {
    type Step = { kind: 'present'; t: number } | { kind: 'fence'; floor: number };
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 40 }).map((t) => ({ kind: 'present' as const, t })) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((floor) => ({ kind: 'fence' as const, floor })) },
    );
    fc.assert(
      fc.property(keyArb, memberArb, fc.integer({ min: 1, max: 40 }), fc.array(stepArb, { maxLength: 60 }), (secret, member, first, steps) => {
        const key = secret;
        let floor = first;
        let highestAdmitted = 0;
        for (const step of steps) {
          if (step.kind === 'fence') {
            // The guard's fence only ever raises the floor (startMcpGuard's raiseFloor).
            floor = Math.max(floor, step.floor);
            continue;
          }
          const credential = sign(key, { m: member, r: 'lease', l: `lease-${step.t}`, t: step.t });
          const decision = credentialDecision(key, member, floor, bearer(credential));
          if (step.t >= floor) {
            expect(decision).toEqual({ admit: true, claims: { m: member, r: 'lease', l: `lease-${step.t}`, t: step.t }, floor: step.t });
            expect(step.t).toBeGreaterThanOrEqual(highestAdmitted);
            highestAdmitted = step.t;
            floor = step.t;
          } else {
            const no = refused(decision);
            expect(no.ended).toBe(true);
            expect(no.why).toMatch(/has ended/);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a closed guard (no floor yet) refuses every lease credential, ended, and admits pool credentials', () => {
    fc.assert(
      fc.property(genuineArb, (g) => {
        const no = refused(credentialDecision(g.key, g.member, null, bearer(g.credential)));
        expect(no.ended).toBe(true);
        expect(no.why).toContain(`pool member ${g.member} admits no lease yet`);
        const pool = sign(g.key, { m: g.member, r: 'pool' });
        expect(credentialDecision(g.key, g.member, null, bearer(pool))).toEqual({ admit: true, claims: { m: g.member, r: 'pool' }, floor: null });
      }),
    );
  });
});
