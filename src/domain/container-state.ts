export const CONTAINER_STATES = ['Starting', 'Available', 'Allocated', 'Cleaning', 'Resetting', 'Unhealthy', 'Stopped'] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

/**
 * The only legal moves of a pool container. `Stopped` is where shutdown leaves every container
 * (reachable from any state); everything else is the lifecycle of the state machine.
 */
export const CONTAINER_TRANSITIONS: Readonly<Record<ContainerState, readonly ContainerState[]>> = {
  Starting: ['Available', 'Unhealthy', 'Stopped'],
  Available: ['Allocated', 'Unhealthy', 'Stopped'],
  Allocated: ['Cleaning', 'Unhealthy', 'Stopped'],
  Cleaning: ['Available', 'Resetting', 'Stopped'],
  Unhealthy: ['Resetting', 'Stopped'],
  Resetting: ['Available', 'Starting', 'Stopped'],
  Stopped: ['Starting'],
};

export function isContainerState(value: unknown): value is ContainerState {
  return typeof value === 'string' && (CONTAINER_STATES as readonly string[]).includes(value);
}

export function canTransition(from: ContainerState, to: ContainerState): boolean {
  return CONTAINER_TRANSITIONS[from].includes(to);
}
