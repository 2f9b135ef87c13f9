import { spawn } from 'node:child_process';
import type { ExecResult } from '../container-runtime.js';
import { BoundedOutput } from '../bounded-output.js';
import { describeExit } from '../exit-description.js';
import { runtimeError } from '../runtime-error.js';
import { terminateProcessGroup } from './process-group.js';

export interface ExecCommandOptions {
  /** Pool container id, for messages. */
  containerId: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** SIGTERM → SIGKILL grace when the budget runs out (at most 1 s: someone is waiting). */
  graceMs: number;
}

/**
 * Runs one command on the host in its own process group, capturing bounded output; when its budget runs out
 * the whole group is ended and the call fails with `data.timedOut`.
 */
export function execCommand(argv: readonly string[], options: ExecCommandOptions): Promise<ExecResult> {
  const { containerId } = options;
  const [command, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = new BoundedOutput();
    const err = new BoundedOutput();
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    let timedOut = false;
    // A plain timer, not the injected clock: it bounds a real process.
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) void terminateProcessGroup(child.pid, Math.min(options.graceMs, 1_000)).catch(() => undefined);
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(
        runtimeError('process', {
          containerId,
          stage: 'exec',
          problem: `could not run ${JSON.stringify(command)}: ${error.message}`,
          fix: 'Check the command exists on this host (the process runtime runs exec on the host).',
          cause: error,
        }),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { exitCode: code ?? describeExit(null, signal).exitCode ?? 1, stdout: out.text, stderr: err.text };
      if (!timedOut) return resolve(result);
      reject(
        runtimeError('process', {
          containerId,
          stage: 'exec',
          problem: `${JSON.stringify(argv.join(' '))} did not finish within ${options.timeoutMs} ms and was killed`,
          fix: 'Make the command faster or pass a larger timeoutMs.',
          data: { timedOut: true, ...result },
        }),
      );
    });
  });
}
