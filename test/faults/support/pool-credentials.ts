import type { ContainerRuntime } from '../../../src/runtime/container-runtime.js';
import { MemberCredentials } from '../../../src/runtime/member-credentials.js';

/** What a scenario may sign as the pool does. */
export interface PoolCredentials {
  /** The pool's own credential for a member (what its health checks and the fence send): admitted whoever holds it. */
  poolCredential(containerId: string): string;
}

/**
 * Finds the credential set a pool made for its run (createPoolManager keeps it to itself) at the one place it
 * shows: when a member starts, the pool hands its guard a key from that set (StartContext.guardKey ->
 * MemberCredentials.keyOf). While that synchronous call runs, keyOf is watched to learn which set answered;
 * nothing else is changed, and the scenario then asks that very set, so it signs exactly what the pool signs
 * whatever the signing scheme. Call before the pool initializes.
 */
export function capturePoolCredentials(runtime: ContainerRuntime): PoolCredentials {
  let captured: MemberCredentials | undefined;
  const start = runtime.start.bind(runtime);
  runtime.start = (spec, ctx) => {
    const keyOf = MemberCredentials.prototype.keyOf;
    MemberCredentials.prototype.keyOf = function (this: MemberCredentials, memberId: string) {
      captured = this;
      return keyOf.call(this, memberId);
    };
    try {
      ctx.guardKey(spec.id);
    } finally {
      MemberCredentials.prototype.keyOf = keyOf;
    }
    return start(spec, ctx);
  };
  return {
    poolCredential(containerId) {
      if (!captured) throw new Error(`no pool credentials captured for ${containerId}: no member has been started through this runtime`);
      return captured.forPool(containerId);
    },
  };
}
