/**
 * When a host agent must stop serving (issue 11, self-fencing), as pure functions of the host lease TTL and the
 * agent's monotonic clock, so a unit test can walk every case without Redis or timers.
 *
 * What the agent knows: a renewal it SENT at monotonic time `sentAt` and that succeeded set the lease to expire at
 * Redis' time of execution + ttl, which is no earlier than `sentAt` + ttl (the script ran after the send). So as
 * long as the agent stops serving before `lastSentOk + ttl`, nobody can take its members over while it still
 * serves them. It stops at `lastSentOk + ttl - margin`: the margin covers a late timer (an event loop busy under
 * load) and the time fencing the members' guards takes.
 *
 * Timings: renew every ttl/3 (as the issue asks), retry a failed renewal every ttl/12, margin ttl/3. Why the
 * margin is one renew interval and not two: with renewals every ttl/3, a margin of two intervals would put the
 * self-fence deadline at the very moment the second renewal is sent, so a healthy agent whose renewal takes a
 * millisecond would fence itself; with one interval, at least three attempts (the scheduled one and retries)
 * fall between the last success and the deadline, and ttl/3 of slack (3.3 s at the default 10 s) stays for a
 * late timer. The deadline is also checked by its own timer, not only at renewals.
 */
export interface HostLeaseTimings {
  /** Between successful renewals, ms. */
  renewEveryMs: number;
  /** Between attempts after a failed renewal, ms. */
  retryEveryMs: number;
  /** How long before the lease could expire the agent stops serving, ms. */
  marginMs: number;
  /** Time after the last successful renewal's send at which the agent self-fences, ms (ttl - margin). */
  fenceAfterMs: number;
}

export function hostLeaseTimings(ttlMs: number): HostLeaseTimings {
  const renewEveryMs = Math.max(1, Math.floor(ttlMs / 3));
  const marginMs = renewEveryMs;
  return { renewEveryMs, retryEveryMs: Math.max(1, Math.floor(ttlMs / 12)), marginMs, fenceAfterMs: ttlMs - marginMs };
}

export type HostLeaseVerdict =
  | { action: 'serve'; /** Monotonic ms at which to self-fence unless a renewal succeeds first. */ fenceAt: number }
  | { action: 'self-fence'; why: string };

export interface HostLeaseState {
  ttlMs: number;
  /** Monotonic ms the last successful claim or renewal was sent. */
  lastSentOk: number;
  /** Monotonic ms now. */
  now: number;
  /** A write or renewal was refused STALE_EPOCH: the host is no longer this agent's, whatever the time. */
  staleEpoch?: string;
}

/** Serve (until when), or self-fence now (and why). */
export function hostLeaseVerdict(state: HostLeaseState): HostLeaseVerdict {
  if (state.staleEpoch !== undefined) return { action: 'self-fence', why: `the store refused this agent's epoch (${state.staleEpoch})` };
  const { fenceAfterMs, marginMs } = hostLeaseTimings(state.ttlMs);
  const fenceAt = state.lastSentOk + fenceAfterMs;
  if (state.now >= fenceAt) {
    return {
      action: 'self-fence',
      why: `no host lease renewal succeeded for ${Math.round(state.now - state.lastSentOk)} ms (lease ${state.ttlMs} ms; the agent stops ${marginMs} ms before Redis could expire it)`,
    };
  }
  return { action: 'serve', fenceAt };
}
