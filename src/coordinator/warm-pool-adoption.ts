import type { WarmMember } from '../runtime/process/warm-members.js';
import { fingerprintChanges, type FingerprintParts } from './warm-pool-fingerprint.js';
import type { WarmState } from './warm-pool-state.js';

/** What to do with the warm members found at start (pure; see planAdoption). */
export interface AdoptionPlan {
  adopt: Map<string, WarmMember>;
  /** Members to end first: another configuration's, or not the ones this pool would start. */
  discard: WarmMember[];
  /** One line for the log: reused, or why not. */
  note: string;
}

/**
 * Which warm members a starting run takes over. Same fingerprint: every member whose server and guard still run
 * (`alive`); the rest start anew. Another fingerprint: none, every one is ended (ports and sandboxes are the new
 * pool's). No or unreadable state: none (the run's reaping removes whatever is left).
 */
export function planAdoption(
  state: WarmState | 'unreadable' | undefined,
  current: { fingerprint: string; parts: FingerprintParts; memberIds: readonly string[] },
  alive: (member: WarmMember) => boolean,
): AdoptionPlan {
  if (state === undefined) return { adopt: new Map(), discard: [], note: 'no warm pool to reuse yet: starting the members (kept warm after this run)' };
  if (state === 'unreadable') return { adopt: new Map(), discard: [], note: 'the warm pool state could not be read: starting the members anew (leftovers are reaped)' };
  if (state.fingerprint !== current.fingerprint) {
    const changes = fingerprintChanges(state.parts, current.parts);
    return {
      adopt: new Map(),
      discard: state.members,
      note: `warm pool not reused: its configuration changed (${changes.join('; ') || 'fingerprint'}); stopping its ${state.members.length} member(s) and starting anew`,
    };
  }
  const adopt = new Map<string, WarmMember>();
  const discard: WarmMember[] = [];
  const gone: string[] = [];
  for (const member of state.members) {
    if (!current.memberIds.includes(member.containerId)) discard.push(member);
    else if (alive(member)) adopt.set(member.containerId, member);
    else gone.push(member.containerId);
  }
  const goneNote = gone.length ? `; ${gone.join(', ')} no longer running (stopped idle or killed), started anew` : '';
  return { adopt, discard, note: adopt.size ? `taking over ${adopt.size} warm member(s)${goneNote}` : `warm pool not reused: none of its members still runs${goneNote}` };
}
