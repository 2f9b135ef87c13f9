import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { countOpenSessions, countZombies } from './container-probes.js';

/** Runs the probes for real with `sh` on this machine, the exec contract pointing at `env`. */
function localRuntime(env: Record<string, string>): ContainerRuntime {
  return {
    exec: async (_id: string, argv: readonly string[]) => {
      const r = spawnSync(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8' });
      return { exitCode: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    },
  } as unknown as ContainerRuntime;
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const step of cleanup.splice(0)) step();
});

function spawnServer(script: string): ChildProcess {
  const child = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  cleanup.push(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  return child;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 25));
}

describe('container probes, run with sh', () => {
  it("names the server's unreaped children and nothing of other processes", async () => {
    // `sleep 600` replaces the shell and never reaps the child that exits at once: a zombie of the "server".
    const server = spawnServer('sleep 0 & exec sleep 600');
    const other = spawnServer('sleep 0 & exec sleep 600');
    const ofServer = localRuntime({ MCP_SERVER_PID: String(server.pid) });
    const ofOther = localRuntime({ MCP_SERVER_PID: String(other.pid) });
    await until(async () => (await countZombies(ofServer, 'c1')).length > 0 && (await countZombies(ofOther, 'c1')).length > 0);
    const zombies = await countZombies(ofServer, 'c1');
    const others = await countZombies(ofOther, 'c1');
    expect(zombies).toHaveLength(1);
    expect(zombies[0]).toMatch(/^\d+ sleep/);
    expect(others).toHaveLength(1);
    expect(others[0]).not.toBe(zombies[0]);
  });

  it('counts the established connections to MCP_PORT, server side only', async () => {
    const server: Server = createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => server.close());
    const port = (server.address() as AddressInfo).port;
    const runtime = localRuntime({ MCP_PORT: String(port) });
    expect(await countOpenSessions(runtime, 'c1')).toBe(0);
    const clients: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const client = connect(port, '127.0.0.1');
      clients.push(client);
      await once(client, 'connect');
    }
    cleanup.push(() => clients.forEach((c) => c.destroy()));
    expect(await countOpenSessions(runtime, 'c1')).toBe(2);
  });
});
