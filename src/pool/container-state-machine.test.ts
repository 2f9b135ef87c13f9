import { describe, expect, it } from 'vitest';
import { CONTAINER_STATES, type ContainerState } from '../domain/container-state.js';
import { isPoolError } from '../errors/pool-error.js';
import { assertTransition } from './container-state-machine.js';

const LEGAL: Array<[ContainerState, ContainerState]> = [
  ['Starting', 'Available'],
  ['Available', 'Allocated'],
  ['Allocated', 'Cleaning'],
  ['Cleaning', 'Available'],
  ['Cleaning', 'Resetting'],
  ['Available', 'Unhealthy'],
  ['Unhealthy', 'Resetting'],
  ['Resetting', 'Available'],
  ['Resetting', 'Starting'],
  ['Allocated', 'Unhealthy'],
  // Beyond the list: a restarted container that fails its health gate, and shutdown.
  ['Starting', 'Unhealthy'],
  ...CONTAINER_STATES.filter((s) => s !== 'Stopped').map((s): [ContainerState, ContainerState] => [s, 'Stopped']),
  ['Stopped', 'Starting'],
];

describe('container state machine', () => {
  it('allows exactly the lifecycle moves and refuses every other pair with a typed error', () => {
    const legal = new Set(LEGAL.map(([a, b]) => `${a}>${b}`));
    let refused = 0;
    for (const from of CONTAINER_STATES) {
      for (const to of CONTAINER_STATES) {
        if (legal.has(`${from}>${to}`)) {
          expect(() => assertTransition('c', from, to)).not.toThrow();
        } else {
          let error: unknown;
          try {
            assertTransition('container-7', from, to);
          } catch (e) {
            error = e;
          }
          expect(isPoolError(error, 'INVALID_TRANSITION')).toBe(true);
          expect((error as Error).message).toContain('container-7');
          refused++;
        }
      }
    }
    expect(refused).toBe(CONTAINER_STATES.length ** 2 - legal.size);
  });
});
