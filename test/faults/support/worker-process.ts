import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { POOL_TOKEN_ENV, POOL_URL_ENV } from '../../../src/protocol/env-names.js';

const WORKER = fileURLToPath(new URL('./holder-worker.ts', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** The next JSON line the worker prints with this `type`. */
  next<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T>;
  send(line: string): void;
  /** Ends it for good (SIGKILL) and waits for the exit; safe when it already exited. */
  kill(): Promise<void>;
}

/** Starts holder-worker.ts as a separate Node process pointed at the coordinator. */
export function startWorker(coordinator: { url: string; token: string }, testRunId: string, priority: string): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, testRunId, priority], {
    env: { ...process.env, [POOL_URL_ENV]: coordinator.url, [POOL_TOKEN_ENV]: coordinator.token },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        messages.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        stderr += `(stdout) ${line}\n`;
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  child.once('exit', () => {
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    async next<T>(type: string, timeoutMs = 30_000): Promise<T> {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const index = messages.findIndex((m) => m.type === type);
        if (index >= 0) return messages.splice(index, 1)[0] as T;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker ${testRunId} exited (${child.exitCode ?? child.signalCode}) before '${type}':\n${stderr}`);
        if (performance.now() > deadline) throw new Error(`worker ${testRunId}: no '${type}' within ${timeoutMs} ms:\n${stderr}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    send(line: string) {
      child.stdin!.write(`${line}\n`);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Ends workers a scenario may have left paused: SIGCONT first (a stopped process would not die until resumed). */
export async function endWorkers(workers: readonly WorkerProcess[]): Promise<void> {
  for (const w of workers) {
    w.child.kill('SIGCONT');
    await w.kill();
  }
}
