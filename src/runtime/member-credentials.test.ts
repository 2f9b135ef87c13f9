import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialDecision, newCredentialKeys } from './mcp-guard.js';
import { generateKeyPairSync } from 'node:crypto';
import { CREDENTIAL_HEADER, credentialHeaders, credentialKeysFromStored, MemberCredentials, storedFromCredentialKeys } from './member-credentials.js';

const SECRET = newCredentialKeys();
const OTHER_SECRET = newCredentialKeys();

/** The claims a credential carries, read as the guard reads them (base64url JSON between the dots). */
function claimsOf(credential: string): unknown {
  const [version, claims, signature] = credential.split('.');
  expect(version).toBe('cq1');
  expect(signature).toMatch(/^[A-Za-z0-9_-]{86}$/); // an Ed25519 signature, 64 bytes
  return JSON.parse(Buffer.from(claims!, 'base64url').toString('utf8'));
}

const memberArb = fc.oneof(fc.integer({ min: 1, max: 500 }).map((n) => `container-${n}`), fc.string({ minLength: 1, maxLength: 20 }));

describe('MemberCredentials (the pool run\'s key pair and the credentials it signs)', () => {
  it('gives every member the pool run\'s public key (what a member holds signs nothing), a new one per run', () => {
    const credentials = new MemberCredentials(SECRET);
    const key = credentials.keyOf('container-1');
    expect(key).toBe(SECRET.publicKey);
    expect(Buffer.from(key, 'base64').length).toBe(44); // DER SPKI of an Ed25519 key
    expect(credentials.keyOf('container-2')).toBe(key);
    expect(new MemberCredentials(OTHER_SECRET).keyOf('container-1')).not.toBe(key);
    // With no key pair given, each pool run makes its own.
    expect(new MemberCredentials().keyOf('container-1')).not.toBe(new MemberCredentials().keyOf('container-1'));
  });

  it('mints lease credentials that carry the member, lease and token and are admitted by that member\'s guard from the floor', () => {
    const credentials = new MemberCredentials(SECRET);
    fc.assert(
      fc.property(memberArb, fc.uuid(), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (member, leaseId, token) => {
        const credential = credentials.forLease(member, leaseId, token);
        expect(claimsOf(credential)).toEqual({ m: member, r: 'lease', l: leaseId, t: token });
        expect(credentialDecision(credentials.keyOf(member), member, token, `Bearer ${credential}`)).toEqual({
          admit: true,
          claims: { m: member, r: 'lease', l: leaseId, t: token },
          floor: token,
        });
        // The same lease, minted by another pool run, is not this run's.
        const foreign = new MemberCredentials(OTHER_SECRET).forLease(member, leaseId, token);
        expect(credentialDecision(credentials.keyOf(member), member, token, `Bearer ${foreign}`).admit).toBe(false);
      }),
    );
  });

  it('mints pool credentials admitted by that member\'s guard even while closed, and by no other member\'s', () => {
    const credentials = new MemberCredentials(SECRET);
    const credential = credentials.forPool('container-1');
    expect(claimsOf(credential)).toEqual({ m: 'container-1', r: 'pool' });
    expect(credentialDecision(credentials.keyOf('container-1'), 'container-1', null, `Bearer ${credential}`)).toEqual({
      admit: true,
      claims: { m: 'container-1', r: 'pool' },
      floor: null,
    });
    expect(credentialDecision(credentials.keyOf('container-2'), 'container-2', null, `Bearer ${credential}`)).toMatchObject({
      admit: false,
      why: expect.stringMatching(/it is for pool member container-1, this is container-2/),
    });
    // A lease credential for container-1 replayed at container-2 (the same pool key) is refused too: it names container-1.
    const lease = credentials.forLease('container-1', 'lease-1', 7);
    expect(credentialDecision(credentials.keyOf('container-2'), 'container-2', 1, `Bearer ${lease}`).admit).toBe(false);
  });

  it('puts a credential in the header the guard reads, as a Bearer credential', () => {
    expect(CREDENTIAL_HEADER).toBe('Authorization');
    const credential = new MemberCredentials(SECRET).forLease('container-1', 'lease-1', 3);
    expect(credentialHeaders(credential)).toEqual({ Authorization: `Bearer ${credential}` });
  });

  it('keeps its key pair as text for a shared pool\'s store and signs the same credentials from it (issue 11)', () => {
    const stored = storedFromCredentialKeys(SECRET);
    expect(stored.publicKey).toBe(SECRET.publicKey);
    expect(Buffer.from(stored.privateKey, 'base64').length).toBe(48); // DER PKCS#8 of an Ed25519 key
    const restored = credentialKeysFromStored(JSON.parse(JSON.stringify(stored)) as typeof stored);
    expect(restored.publicKey).toBe(SECRET.publicKey);
    // A credential signed by another participant from the stored pair is admitted by a guard holding the original public key.
    const credential = new MemberCredentials(restored).forLease('h1-0', 'lease-1', 4);
    expect(credentialDecision(SECRET.publicKey, 'h1-0', 4, `Bearer ${credential}`).admit).toBe(true);
    expect(storedFromCredentialKeys(restored)).toEqual(stored);
  });

  it('refuses stored keys that are not an Ed25519 pair that belongs together', () => {
    const other = storedFromCredentialKeys(OTHER_SECRET);
    const mine = storedFromCredentialKeys(SECRET);
    expect(() => credentialKeysFromStored({ publicKey: other.publicKey, privateKey: mine.privateKey })).toThrow(/does not belong/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecText = {
      publicKey: ec.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
      privateKey: ec.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    };
    expect(() => credentialKeysFromStored(ecText)).toThrow(/not Ed25519/);
    expect(() => credentialKeysFromStored({ publicKey: 'nonsense', privateKey: 'nonsense' })).toThrow();
  });
});
