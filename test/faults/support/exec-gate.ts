import type { ContainerRuntime } from '../../../src/runtime/container-runtime.js';

export interface ExecGate {
  /** exec() calls into the member that arrived while the gate was shut (each waits for open()). */
  readonly held: number;
  /** Lets the held calls and every later one through, and gives the runtime its own exec() back. Safe twice. */
  open(): void;
}

/**
 * Shuts every exec() into one member until open(): cleanup runs in the member by exec (every stage), so while the
 * gate is shut the pool's recycle of that member is stopped at its first stage. A scenario uses it to show what
 * happens at a release before cleanup does anything (a slow cleanup, made certain rather than hoped for).
 */
export function holdExecs(runtime: ContainerRuntime, containerId: string): ExecGate {
  const exec = runtime.exec.bind(runtime);
  let release = () => undefined as void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  let shut = true;
  let held = 0;
  runtime.exec = async (id, argv, options) => {
    if (shut && id === containerId) {
      held++;
      await opened;
    }
    return exec(id, argv, options);
  };
  return {
    get held() {
      return held;
    },
    open() {
      shut = false;
      runtime.exec = exec;
      release();
    },
  };
}
