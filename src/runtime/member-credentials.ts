import { createPrivateKey, createPublicKey } from 'node:crypto';
import { newCredentialKeys, signCredential, type CredentialKeys } from './mcp-guard.js';

/**
 * A pool's key pair as text, the form a shared pool keeps in its store (the store's StoredSigningKeys has this
 * shape; runtime may not import store, so the shape is restated here and TypeScript matches them structurally).
 */
export interface SigningKeysText {
  /** base64 DER SPKI (Ed25519). */
  publicKey: string;
  /** base64 DER PKCS#8 (Ed25519). */
  privateKey: string;
}

/** The key pair as text for the store (Ed25519, DER, base64). */
export function storedFromCredentialKeys(keys: CredentialKeys): SigningKeysText {
  return { publicKey: keys.publicKey, privateKey: keys.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64') };
}

/**
 * The key pair read back from the store. Throws a TypeError when either half is not an Ed25519 key or the halves
 * do not belong together (a store written by something else): signing with a foreign key would lock every
 * holder out of its member.
 */
export function credentialKeysFromStored(stored: SigningKeysText): CredentialKeys {
  const privateKey = createPrivateKey({ key: Buffer.from(stored.privateKey, 'base64'), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: Buffer.from(stored.publicKey, 'base64'), format: 'der', type: 'spki' });
  if (privateKey.asymmetricKeyType !== 'ed25519' || publicKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`the stored signing keys are not Ed25519 (private ${privateKey.asymmetricKeyType}, public ${publicKey.asymmetricKeyType})`);
  }
  const derived = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
  if (derived !== publicKey.export({ format: 'der', type: 'spki' }).toString('base64')) {
    throw new TypeError('the stored public key does not belong to the stored private key');
  }
  return { publicKey: derived, privateKey };
}

/** Header a request to a pool member carries its credential in (the guard strips it before the server). */
export const CREDENTIAL_HEADER = 'Authorization';

/** The headers an MCP client sends to a pool member with `credential`: `{ Authorization: 'Bearer …' }`. */
export function credentialHeaders(credential: string): Record<string, string> {
  return { [CREDENTIAL_HEADER]: `Bearer ${credential}` };
}

/**
 * The pool's credentials for its members (docker/image/mcp-guard.cjs checks them). One Ed25519 key pair per pool
 * run: the guards get the public key only, so nothing a member holds can sign a credential; each credential
 * names its member, so one for container-1 opens nothing else. Lease credentials go to the holder with the
 * grant; pool credentials are for the pool's own calls (health checks, the fence). Nothing of it is stored: a
 * new run makes a new pair, and credentials of an earlier run are refused.
 */
export class MemberCredentials {
  private readonly poolCredentials = new Map<string, string>();

  constructor(private readonly keys: CredentialKeys = newCredentialKeys()) {}

  /** The key the guard of `memberId` is started with: the pool's public key (base64 DER SPKI). */
  keyOf(_memberId: string): string {
    return this.keys.publicKey;
  }

  /** The holder's credential for lease `leaseId` with fencing token `token` on `memberId`. */
  forLease(memberId: string, leaseId: string, token: number): string {
    return signCredential(this.keys.privateKey, { m: memberId, r: 'lease', l: leaseId, t: token });
  }

  /** The pool's own credential for `memberId`: admitted whoever holds the member, never cut by a fence. */
  forPool(memberId: string): string {
    let credential = this.poolCredentials.get(memberId);
    if (credential === undefined) {
      credential = signCredential(this.keys.privateKey, { m: memberId, r: 'pool' });
      this.poolCredentials.set(memberId, credential);
    }
    return credential;
  }
}
