import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../test/support/ports.js';

/** What the throughput benches (suite-throughput, warm-reuse) start and run: the shop, `playwright test`, ports. */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** `npx playwright test -c <config> <args>` from the config's folder, its output in `logFile`; resolves to its exit code. */
export function playwrightTest(config: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile);
    const child = spawn('npx', ['playwright', 'test', '-c', config, ...args], { cwd: join(config, '..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.once('error', reject);
    child.once('close', (code) => {
      log.end();
      resolve(code ?? 1);
    });
  });
}

/** Whether nothing listens on `port` (127.0.0.1) right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The example shop on `host` ('0.0.0.0' when Docker members reach it as host.docker.internal), started once for
 * all of a bench's runs; resolves once it answers /healthz.
 */
export async function startShop(port: number, host: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'e2e-example/app/server.ts'], { cwd: repoRoot, env: { ...process.env, PORT: String(port), HOST: host }, stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGTERM');
      throw new Error(`the example shop did not answer on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Free ports: the shop, the pool's basePort and the warm pool's (each with basePort + 1 free too), the two
 * hand-wired containers.
 */
export async function pickPorts(): Promise<{ shop: number; base: number; warmBase: number; hand: [number, number] }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const [shop, base, warmBase, a, b] = (await freePorts(5)) as [number, number, number, number, number];
    const taken = [shop, base, warmBase, a, b];
    if (taken.includes(base + 1) || taken.includes(warmBase + 1) || base + 1 === warmBase || warmBase + 1 === base) continue;
    if ((await isPortFree(base + 1)) && (await isPortFree(warmBase + 1))) return { shop, base, warmBase, hand: [a, b] };
  }
  throw new Error('found no two free pairs of consecutive ports for the pools');
}
