import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePortRanges, freePorts } from '../../test/support/ports.js';

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
  // The pools' ranges lie below the ephemeral range, the single ports (listen(0)) inside it: they cannot overlap.
  const [base, warmBase] = (await freePortRanges(2, 2)) as [number, number];
  const [shop, a, b] = (await freePorts(3)) as [number, number, number];
  return { shop, base, warmBase, hand: [a, b] };
}
