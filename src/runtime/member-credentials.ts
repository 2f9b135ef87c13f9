import { newCredentialKeys, signCredential, type CredentialKeys } from './mcp-guard.js';

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
