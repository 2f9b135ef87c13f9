// The lease credential of pool members (issue 10): its format, how the pool signs it, and how a member's guard
// (mcp-guard.cjs) decides on one. Plain Node, CommonJS, no dependencies, for the same reason as the guard: the
// image has nothing but node and these files. See mcp-guard.cjs for the design and why it is shaped this way.
'use strict';
const crypto = require('node:crypto');

/** Version tag of the credential format: `cq1.<claims, base64url JSON>.<Ed25519 signature, base64url>`. */
const CREDENTIAL_VERSION = 'cq1';
/** Longest Authorization header looked at: a credential is ~200 bytes; anything far longer is not one. */
const MAX_CREDENTIAL_LENGTH = 2048;

const publicKeys = new Map();

/** The guard's key (base64 DER SPKI of an Ed25519 public key) as a KeyObject; throws when it is not one. */
function publicKeyOf(text) {
  let key = publicKeys.get(text);
  if (key === undefined) {
    key = crypto.createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`not an Ed25519 public key: ${key.asymmetricKeyType}`);
    publicKeys.set(text, key);
  }
  return key;
}

/** True when `text` is a guard key. */
function isGuardKey(text) {
  try {
    return typeof text === 'string' && text.length > 0 && publicKeyOf(text) !== undefined;
  } catch {
    return false;
  }
}

/**
 * A new key pair for a pool run: `publicKey` (base64 DER SPKI) goes to the members' guards, `privateKey` (a
 * KeyObject) stays in the pool and signs credentials.
 */
function newCredentialKeys() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  return { publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), privateKey };
}

/**
 * Signs claims with the pool's private key (a KeyObject from newCredentialKeys): `{ m: memberId, r: 'pool' }` or
 * `{ m, r: 'lease', l: leaseId, t: token }`. The credential is what goes after `Bearer `.
 */
function signCredential(privateKey, claims) {
  const body = `${CREDENTIAL_VERSION}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${body}.${crypto.sign(null, Buffer.from(body), privateKey).toString('base64url')}`;
}

/** Credentials whose signature was verified, per guard key: a lease's holder sends the same one every request. */
const verified = new Map();
const VERIFIED_LIMIT = 1024;

function signatureValid(key, body, signature) {
  const cacheKey = `${key} ${body}.${signature}`;
  if (verified.has(cacheKey)) return true;
  const bytes = Buffer.from(signature, 'base64url');
  // Checked as text too: Node's base64url decoder skips foreign characters, so other spellings would decode
  // to the same bytes.
  if (bytes.length !== 64 || bytes.toString('base64url') !== signature) return false;
  let ok;
  try {
    ok = crypto.verify(null, Buffer.from(body), publicKeyOf(key), bytes);
  } catch {
    ok = false;
  }
  if (ok) {
    if (verified.size >= VERIFIED_LIMIT) verified.clear();
    verified.set(cacheKey, true);
  }
  return ok;
}

/**
 * What the guard does with an Authorization header, as a pure function of its state, so it can be tested
 * exhaustively: `{ admit: true, claims, floor }` (floor: the member's floor after this request) or
 * `{ admit: false, why, ended }` (`ended`: a genuine credential of a lease that is over).
 * - key: the guard's key (the pool's public key, base64 DER SPKI); member: its id ("container-1"); floor: lowest
 *   token admitted, or null while closed (no lease admitted since the guard started, until the pool sets it).
 */
function credentialDecision(key, member, floor, authorization) {
  const hint = `send "Authorization: Bearer <credential>" with the credential of this member's current lease (mcpContainer.headers)`;
  if (typeof authorization !== 'string' || authorization.length === 0) {
    return { admit: false, why: `no credential: pool member ${member} answers only the holder of its current lease; ${hint}` };
  }
  const match = /^Bearer +(\S+)$/i.exec(authorization.length > MAX_CREDENTIAL_LENGTH ? '' : authorization);
  const parts = match ? match[1].split('.') : [];
  if (parts.length !== 3 || parts[0] !== CREDENTIAL_VERSION) {
    return { admit: false, why: `malformed credential: pool member ${member} expects "Bearer ${CREDENTIAL_VERSION}.<claims>.<signature>"; ${hint}` };
  }
  let claims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    claims = undefined;
  }
  const lease = claims && claims.r === 'lease';
  if (!claims || typeof claims !== 'object' || typeof claims.m !== 'string' || !(lease || claims.r === 'pool') ||
    (lease && (typeof claims.l !== 'string' || !Number.isSafeInteger(claims.t) || claims.t < 1))) {
    return { admit: false, why: `malformed credential claims: pool member ${member} expects a lease or pool credential; ${hint}` };
  }
  if (claims.m !== member) {
    return { admit: false, why: `credential refused: it is for pool member ${claims.m}, this is ${member}; ${hint}` };
  }
  // Compared as text: Node's base64url decoder skips foreign characters and unused bits, so decoding first
  // would admit many spellings of one signature.
  if (!signatureValid(key, `${parts[0]}.${parts[1]}`, parts[2])) {
    return { admit: false, why: `credential refused: its signature does not match pool member ${member}'s key (forged, altered, or from another run of the pool); ${hint}` };
  }
  if (!lease) return { admit: true, claims, floor };
  if (floor === null) {
    return { admit: false, ended: true, why: `lease ${claims.l} (token ${claims.t}) refused: pool member ${member} admits no lease yet (it has just started or restarted and the pool has not handed it out since)` };
  }
  if (claims.t < floor) {
    return { admit: false, ended: true, why: `lease ${claims.l} (token ${claims.t}) on pool member ${member} has ended (released, expired or revoked; the member now admits tokens from ${floor}): a later holder has it` };
  }
  return { admit: true, claims, floor: claims.t };
}

module.exports = { credentialDecision, signCredential, newCredentialKeys, isGuardKey };
