import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { backoffDelay } from '../../clock/backoff.js';
import type { Clock } from '../../clock/clock.js';
import { sleepOn, withinBudget } from '../../clock/clock-wait.js';
import { PoolError } from '../../errors/pool-error.js';
import type { ExecResult } from '../container-runtime.js';
import { runtimeError } from '../runtime-error.js';
import { dockerFix, dockerMessage } from './docker-error.js';
import { ExecOutput } from './exec-output.js';

/** The image must provide it (docker/image/mcp-exec): it adds MCP_SERVER_PID and enters MCP_WORKDIR. */
const EXEC_WRAPPER = 'mcp-exec';
/** Extra wait beyond an exec's own timeout (enforced inside by `timeout`) before the client gives up. */
const EXEC_CLIENT_GRACE_MS = 5_000;

export interface DockerExecInput {
  docker: Docker;
  clock: Clock;
  /** Pool container id, for messages. */
  containerId: string;
  dockerId: string;
  /** The image tag, for the advice when it lacks the exec wrapper. */
  image: string;
  argv: readonly string[];
  timeoutMs: number;
}

/**
 * Runs argv in a container under the exec contract (through `mcp-exec`) with its budget enforced inside the
 * container by `timeout`, so it holds even when this process goes away.
 */
export async function runDockerExec(input: DockerExecInput): Promise<ExecResult> {
  const { docker, clock, containerId, dockerId, argv, timeoutMs } = input;
  if (argv.length === 0) throw new PoolError('INVALID_ARGUMENT', `exec in container ${containerId} needs a command (argv is empty).`, { containerId });
  const stage = 'exec';
  const command = JSON.stringify(argv.join(' '));
  const started = clock.monotonic();
  // `-k 2` escalates to SIGKILL for commands that ignore SIGTERM; `timeout`'s process group also takes the
  // command's children with it.
  const cmd = ['timeout', '-k', '2', `${(timeoutMs / 1000).toFixed(3)}s`, EXEC_WRAPPER, ...argv];

  let exec: Docker.Exec;
  let stream: Duplex;
  try {
    exec = await docker.getContainer(dockerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
    stream = await exec.start({ hijack: true, stdin: false });
  } catch (error) {
    throw runtimeError('docker', { containerId, stage, problem: `could not run ${command}: ${dockerMessage(error)}`, cause: error, fix: 'Is the container running? inspect() tells why not.' });
  }

  const output = new ExecOutput();
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => output.push(chunk));
    stream.once('end', () => resolve());
    stream.once('close', () => resolve());
    stream.once('error', (error: Error) => reject(runtimeError('docker', { containerId, stage, cause: error, fix: dockerFix(error) })));
  });
  const budget = timeoutMs + EXEC_CLIENT_GRACE_MS;
  await withinBudget(clock, ended, budget, () => {
    stream.destroy();
    return runtimeError('docker', {
      containerId,
      stage,
      problem: `the Docker daemon did not end it within ${budget} ms`,
      fix: 'Check the daemon (docker info) and the container.',
      data: { timedOut: true },
    });
  });

  const exitCode = await execExitCode(exec, clock, containerId);
  const elapsed = clock.monotonic() - started;
  // 124: `timeout` fired (SIGTERM); 137: it had to SIGKILL. Only a timeout when the budget was really used up.
  if ((exitCode === 124 || exitCode === 137) && elapsed >= timeoutMs) {
    throw runtimeError('docker', {
      containerId,
      stage,
      problem: `${command} ran longer than its ${timeoutMs} ms budget and was killed`,
      fix: 'Raise timeoutMs or make the command faster.',
      data: { timedOut: true, exitCode, stdout: output.stdout, stderr: output.stderr },
    });
  }
  if (exitCode === 127 && output.stderr.includes(EXEC_WRAPPER)) {
    throw runtimeError('docker', {
      containerId,
      stage,
      problem: `the image ${input.image} has no ${EXEC_WRAPPER}`,
      fix: 'Rebuild it with `npx cinnamon-pool image build --force` and use the tag it prints.',
    });
  }
  return { exitCode, stdout: output.stdout, stderr: output.stderr };
}

async function execExitCode(exec: Docker.Exec, clock: Clock, containerId: string): Promise<number> {
  // The output stream can end a moment before the daemon records the exit code: ask again soon (5, 10, 20,
  // 40 ms, then every 50 ms), as every exec of a cleanup stage or reset waits on this.
  for (let attempt = 0; attempt < 25; attempt++) {
    let info: Docker.ExecInspectInfo;
    try {
      info = await exec.inspect();
    } catch (error) {
      throw runtimeError('docker', { containerId, stage: 'exec (reading the exit code)', cause: error, fix: dockerFix(error) });
    }
    if (!info.Running && info.ExitCode !== null) return info.ExitCode;
    await sleepOn(clock, backoffDelay(attempt, 5, 50));
  }
  throw runtimeError('docker', {
    containerId,
    stage: 'exec',
    problem: 'its output ended but Docker reports it still running',
    fix: 'Retry the command.',
  });
}
