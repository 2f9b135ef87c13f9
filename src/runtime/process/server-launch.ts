import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Clock } from '../../clock/clock.js';
import { buildMcpServerArgv, buildMcpServerConfig, MCP_SERVER_LIFECYCLE_ENV } from '../mcp-server-command.js';
import { waitForPortClosed } from '../port-probe.js';
import { runtimeError } from '../runtime-error.js';
import type { SandboxPaths } from './sandbox-layout.js';

/** How long a launch waits for a busy member port to be released before calling it taken. */
const PORT_FREE_WAIT_MS = 1_500;

export interface ServerLaunchInput {
  containerId: string;
  /** The member's port: the guard's; the server gets a private loopback port. */
  port: number;
  paths: SandboxPaths;
  /** The server's environment (sandboxEnv); the lifecycle variables are set over it. */
  env: NodeJS.ProcessEnv;
  cliPath: string;
  chromiumPath: string;
  chromiumSandbox?: boolean;
  chromiumArgs?: readonly string[];
  serverArgs?: readonly string[];
  webmcp?: boolean;
  clock: Clock;
}

export interface SpawnedServer {
  child: ChildProcess;
  pid: number;
  /** The private loopback port the server listens on, behind the guard. */
  serverPort: number;
}

/**
 * Spawns one `@playwright/mcp` server for a member whose sandbox exists: its own process group (a stop ends its
 * Chromium too), output to the member's log, listening on a private loopback port and accepting the Host
 * headers that name the member's port, which the guard in front forwards unchanged.
 */
export async function spawnServer(input: ServerLaunchInput): Promise<SpawnedServer> {
  const { containerId, port, paths } = input;
  // A port already taken would make the guard fail a moment later; say so now, plainly. A predecessor killed a
  // moment ago (restart, reaping) may hold it briefly: give it time to let go.
  if (!(await waitForPortClosed(input.clock, '127.0.0.1', port, PORT_FREE_WAIT_MS))) {
    throw runtimeError('process', {
      containerId,
      stage: 'start',
      problem: `port ${port} on 127.0.0.1 is already in use by another program`,
      fix: 'Free the port or choose another basePort / containerSpecs port.',
    });
  }
  const serverPort = await freeLoopbackPort();
  const command = {
    cliPath: input.cliPath,
    port: serverPort,
    allowedHosts: [`localhost:${port}`, `127.0.0.1:${port}`],
    chromiumPath: input.chromiumPath,
    configPath: paths.configPath,
    chromiumSandbox: input.chromiumSandbox,
    chromiumArgs: input.chromiumArgs,
    serverArgs: input.serverArgs,
    webmcp: input.webmcp,
  };
  await writeFile(paths.configPath, `${JSON.stringify(buildMcpServerConfig(command), null, 2)}\n`);
  const logFd = openSync(paths.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, buildMcpServerArgv(command), {
      cwd: paths.workDir,
      // Set over the sandbox environment, which drops inherited PLAYWRIGHT_MCP_* variables.
      env: { ...input.env, ...MCP_SERVER_LIFECYCLE_ENV },
      // Its own process group, so a stop can signal the server and every Chromium process at once.
      detached: true,
      stdio: ['ignore', logFd, logFd],
    });
  } finally {
    closeSync(logFd);
  }
  const spawned = await new Promise<{ ok: true } | { ok: false; error: Error }>((resolve) => {
    child.once('spawn', () => resolve({ ok: true }));
    child.once('error', (error) => resolve({ ok: false, error }));
  });
  if (!spawned.ok || child.pid === undefined) {
    const cause = spawned.ok ? new Error('no pid') : spawned.error;
    throw runtimeError('process', {
      containerId,
      stage: 'start',
      problem: `could not spawn ${process.execPath}: ${cause.message}`,
      fix: 'Check that Node can run child processes here.',
      cause,
    });
  }
  // A pool left running by mistake must not keep the host process alive; close() or the exit hook ends it.
  child.unref();
  return { child, pid: child.pid, serverPort };
}

/** A loopback port nothing listens on now (the kernel's pick), for a server that only the guard talks to. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
