import type { ContainerRuntime } from '../../../src/runtime/container-runtime.js';
import { signCredential } from '../../../src/runtime/mcp-guard.js';

/** What a scenario knows of the keys the pool gave its members' guards. */
export interface GuardKeys {
  /** The key the guard of `containerId` was started with (64 hex digits); throws before its first start. */
  keyOf(containerId: string): string;
  /** The pool's own credential for a member (what its health checks and the fence send): admitted whoever holds it. */
  poolCredential(containerId: string): string;
}

/**
 * Records, as each member starts, the key the pool hands its guard (StartContext.guardKey), so a scenario can
 * sign what the pool signs (its pool credential, a forged older lease) without reaching into the pool: the key
 * is taken where the guard takes it. Call before the pool initializes.
 */
export function recordGuardKeys(runtime: ContainerRuntime): GuardKeys {
  const keys = new Map<string, string>();
  const start = runtime.start.bind(runtime);
  runtime.start = (spec, ctx) => {
    keys.set(spec.id, ctx.guardKey(spec.id));
    return start(spec, ctx);
  };
  const keyOf = (containerId: string) => {
    const key = keys.get(containerId);
    if (key === undefined) throw new Error(`no guard key recorded for ${containerId}: it has not been started through this runtime`);
    return key;
  };
  return { keyOf, poolCredential: (containerId) => signCredential(keyOf(containerId), { m: containerId, r: 'pool' }) };
}
