import { spawn, type ChildProcess } from 'node:child_process';

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A process started inside a namespace, in its own process group, with its output kept. */
export interface NetnsChild {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it printed so far on stdout. */
  stdout(): string;
  /** The last 64 KiB of stderr (for failure messages). */
  stderr(): string;
  /** Resolves when it exits (never rejects). */
  readonly exited: Promise<ChildExit>;
  /** The first stdout line matching `pattern`; rejects when the child exits first or the budget runs out. */
  waitForLine(pattern: RegExp, budgetMs: number): Promise<string>;
  /** Sends `signal` to its whole process group (a no-op once it exited). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when it exited. Safe to call twice. */
  stop(graceMs?: number): Promise<ChildExit>;
}

const STDERR_KEEP = 64 * 1024;
/** Grace between SIGTERM and SIGKILL at stop(). @defaultValue 5000 */
export const DEFAULT_STOP_GRACE_MS = 5_000;

/** Spawns `argv` through `ip netns exec NAMESPACE`, detached so that the group can be signalled as one. */
export function spawnInNamespace(namespace: string, argv: readonly string[], options: { env: NodeJS.ProcessEnv; cwd?: string; label: string }): NetnsChild {
  if (argv.length === 0) throw new Error(`exec in ${namespace}: empty argv`);
  const child = spawn('ip', ['netns', 'exec', namespace, ...argv], {
    env: options.env,
    cwd: options.cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn \`ip netns exec ${namespace} ${argv.join(' ')}\``);
  const pid = child.pid;
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = (): void => listeners.forEach((l) => l());
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-STDERR_KEEP);
  });
  let exit: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('error', (error) => {
      err += `\nspawn error: ${error.message}`;
      exit ??= { code: null, signal: null };
      resolve(exit);
      notify();
    });
    child.once('close', (code, signal) => {
      exit ??= { code, signal };
      resolve(exit);
      notify();
    });
  });

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (exit) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone already
    }
  };
  let stopping: Promise<ChildExit> | undefined;

  return {
    pid,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    signal: signalGroup,
    waitForLine(pattern, budgetMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const line = out.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) return finish(() => resolve(line));
          if (exit) {
            finish(() =>
              reject(new Error(`${options.label} exited (code ${exit!.code}, signal ${exit!.signal}) before printing ${pattern}:\nstdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-4000)}`)),
            );
          }
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`${options.label} printed no line matching ${pattern} within ${budgetMs} ms:\nstdout:\n${out.slice(-4000)}\nstderr:\n${err.slice(-4000)}`))),
          budgetMs,
        );
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    stop(graceMs = DEFAULT_STOP_GRACE_MS) {
      stopping ??= (async () => {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        const result = await exited;
        clearTimeout(timer);
        // The leader is gone; children it left in the group are not ours to keep either.
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // no process left in the group
        }
        return result;
      })();
      return stopping;
    },
  };
}
