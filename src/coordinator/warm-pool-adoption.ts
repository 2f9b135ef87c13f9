import { fingerprintChanges, type FingerprintParts } from './warm-pool-fingerprint.js';

/** What to do with the warm members found at start (pure; see planAdoption). */
export interface AdoptionPlan<M extends { containerId: string }> {
  adopt: Map<string, M>;
  /** Of `adopt`, the members the last run left clean (Available at its end): taken over without a cleanup. */
  clean: Set<string>;
  /** Members to end first: another configuration's, or not the ones this pool would start. */
  discard: M[];
  /** Members no longer running (stopped idle, killed): what is left of them goes (a Docker container that exited). */
  gone: M[];
  /** One line for the log: reused, or why not. */
  note: string;
}

/**
 * Which warm members a starting run takes over. Same fingerprint: every member whose server and guard still run
 * (`alive`); the rest start anew. Another fingerprint: none, every one is ended (ports and sandboxes are the new
 * pool's). No or unreadable state: none (the run's reaping removes whatever is left). An adopted member the last
 * run left clean (`state.clean`: Available at its end, so cleaned after its last holder) needs no cleanup: between
 * runs only its guard ran, admitting nobody (the key it was started with is gone with that run).
 */
export function planAdoption<M extends { containerId: string }>(
  state: { fingerprint: string; parts: FingerprintParts; members: readonly M[]; clean?: readonly string[] | undefined } | 'unreadable' | undefined,
  current: { fingerprint: string; parts: FingerprintParts; memberIds: readonly string[] },
  alive: (member: M) => boolean,
): AdoptionPlan<M> {
  if (state === undefined) return { adopt: new Map(), clean: new Set(), discard: [], gone: [], note: 'no warm pool to reuse yet: starting the members (kept warm after this run)' };
  if (state === 'unreadable') return { adopt: new Map(), clean: new Set(), discard: [], gone: [], note: 'the warm pool state could not be read: starting the members anew (leftovers are reaped)' };
  if (state.fingerprint !== current.fingerprint) {
    const changes = fingerprintChanges(state.parts, current.parts);
    return {
      adopt: new Map(),
      clean: new Set(),
      discard: [...state.members],
      gone: [],
      note: `warm pool not reused: its configuration changed (${changes.join('; ') || 'fingerprint'}); stopping its ${state.members.length} member(s) and starting anew`,
    };
  }
  const adopt = new Map<string, M>();
  const discard: M[] = [];
  const gone: M[] = [];
  for (const member of state.members) {
    if (!current.memberIds.includes(member.containerId)) discard.push(member);
    else if (alive(member)) adopt.set(member.containerId, member);
    else gone.push(member);
  }
  const clean = new Set([...adopt.keys()].filter((id) => state.clean?.includes(id)));
  const goneNote = gone.length ? `; ${gone.map((m) => m.containerId).join(', ')} no longer running (stopped idle or killed), started anew` : '';
  return { adopt, clean, discard, gone, note: adopt.size ? `taking over ${adopt.size} warm member(s)${goneNote}` : `warm pool not reused: none of its members still runs${goneNote}` };
}
