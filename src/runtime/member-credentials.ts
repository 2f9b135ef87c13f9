import { randomBytes } from 'node:crypto';
import { memberKey, signCredential } from './mcp-guard.js';

/** Header a request to a pool member carries its credential in (the guard strips it before the server). */
export const CREDENTIAL_HEADER = 'Authorization';

/** The headers an MCP client sends to a pool member with `credential`: `{ Authorization: 'Bearer …' }`. */
export function credentialHeaders(credential: string): Record<string, string> {
  return { [CREDENTIAL_HEADER]: `Bearer ${credential}` };
}

/**
 * The pool's credentials for its members (docker/image/mcp-guard.cjs checks them). One random secret per pool
 * run; each member's guard gets only its own key, derived from it ({@link memberKey}), so a member's key opens
 * that member alone. Lease credentials go to the holder with the grant; pool credentials are for the pool's own
 * calls (health checks, the fence). Nothing of it is stored: a new run mints a new secret, and credentials of an
 * earlier run are refused.
 */
export class MemberCredentials {
  private readonly keys = new Map<string, string>();

  constructor(private readonly secret: string = randomBytes(32).toString('hex')) {}

  /** The key the guard of `memberId` is started with (64 hex digits). */
  keyOf(memberId: string): string {
    let key = this.keys.get(memberId);
    if (key === undefined) {
      key = memberKey(this.secret, memberId);
      this.keys.set(memberId, key);
    }
    return key;
  }

  /** The holder's credential for lease `leaseId` with fencing token `token` on `memberId`. */
  forLease(memberId: string, leaseId: string, token: number): string {
    return signCredential(this.keyOf(memberId), { m: memberId, r: 'lease', l: leaseId, t: token });
  }

  /** The pool's own credential for `memberId`: admitted whoever holds the member, never cut by a fence. */
  forPool(memberId: string): string {
    return signCredential(this.keyOf(memberId), { m: memberId, r: 'pool' });
  }
}
