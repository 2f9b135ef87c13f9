import { HostAgent, describeStartFailure } from '../agent/host-agent.js';
import type { AgentCommand } from './agent-args.js';

export interface AgentIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Where signals come from (process). */
  signals: Pick<NodeJS.Process, 'on' | 'off'>;
}

/**
 * Runs the agent in the foreground: progress on stderr, ONE line on stdout once every member is registered and
 * healthy, then serves until SIGTERM or SIGINT, which drains (exit 0). A second signal leaves the registry at
 * once (best effort) and exits 1. A failed start exits 1 with the reason (HOST_TAKEN names the host).
 */
export async function runAgent(command: AgentCommand, io: AgentIo): Promise<number> {
  const { options } = command;
  const tag = `[cinnamon-pool agent ${options.hostId}]`;
  const log = (level: string) => (message: string) => io.stderr.write(`${tag}${level} ${message}\n`);
  const agent = new HostAgent(options, { logger: { info: log(''), warn: log(' warning:'), error: log(' error:') }, env: io.env });

  let signalled: NodeJS.Signals | undefined;
  let forcedRequested = false;
  let forced: (() => void) | undefined;
  const forcedExit = new Promise<number>((resolve) => (forced = () => resolve(1)));
  let stopped: (() => void) | undefined;
  const stopRequested = new Promise<void>((resolve) => (stopped = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      forcedRequested = true;
      log('')(`${signal} again: leaving the pool now and exiting without waiting for holders`);
      void agent
        .leaveNow()
        .finally(() => agent.close())
        .finally(() => forced?.());
      return;
    }
    signalled = signal;
    log('')(`${signal}: draining (send it again to exit at once)`);
    stopped?.();
  };
  io.signals.on('SIGTERM', onSignal);
  io.signals.on('SIGINT', onSignal);
  try {
    const run = async (): Promise<number> => {
      log('')(`starting ${options.containers} ${options.runtime} member(s) for pool '${options.poolId}' as host ${options.hostId}, advertising ${options.advertise}`);
      try {
        io.stdout.write(`${await agent.start()}\n`);
      } catch (error) {
        log(' error:')(`could not start: ${describeStartFailure(error, options)}`);
        return 1;
      }
      // A signal during start waits for start to finish (or fail): then drains what it started.
      await stopRequested;
      await agent.drain();
      log('')('stopped');
      return forcedRequested ? 1 : 0;
    };
    return await Promise.race([run(), forcedExit]);
  } finally {
    io.signals.off('SIGTERM', onSignal);
    io.signals.off('SIGINT', onSignal);
  }
}
