/**
 * Can anything beat variant (c)? Measures one test of the workload (fresh MCP session → navigate → click →
 * snapshot → close) on one hand-started container, cold as (c) runs it, and with a "keeper" session held open
 * on the same server that has already used the browser, so the server keeps its browser between the tests'
 * sessions (it closes the browser when its last session closes). Interleaved cold/warm, medians.
 *
 *   npx tsx bench/throughput/warm-browser.ts      (env WARM_ROUNDS, default 10)
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { appUrlFor } from '../../fixtures/app-url.js';
import { freePorts } from '../../test/support/ports.js';
import { startHandWired } from './hand-wired.js';
import { connectMcp } from './mcp-connect.js';

const ROUNDS = Number(process.env.WARM_ROUNDS ?? 10);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

async function oneTest(url: string, headers: Record<string, string>): Promise<number> {
  const started = performance.now();
  const session = await connectMcp(url, undefined, headers);
  try {
    // Imported here: mcp-browser reads SHOP_URL when it loads, and run() sets it first.
    const { McpBrowser } = await import('../../e2e-example/tests/support/mcp-browser.js');
    const browser = await McpBrowser.of({ client: session.client, appUrl: (u) => appUrlFor('docker', u) });
    await browser.open('/products/chai-blend');
    const page = await browser.click('button', 'Add Chai Tea Blend to cart');
    if (!page.texts('status').some((t) => t.includes('added to your cart'))) throw new Error('click had no effect');
  } finally {
    await session.close();
  }
  return performance.now() - started;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export async function run(image: string): Promise<string> {
  const [shopPort, mcpPort] = (await freePorts(2)) as [number, number];
  process.env.SHOP_URL = `http://localhost:${shopPort}`;
  const shop = spawn(process.execPath, ['--import', 'tsx', 'e2e-example/app/server.ts'], { cwd: repoRoot, env: { ...process.env, PORT: String(shopPort), HOST: '0.0.0.0' }, stdio: 'ignore' });
  const cold: number[] = [];
  const warm: number[] = [];
  const loads: number[] = [];
  let hand: Awaited<ReturnType<typeof startHandWired>> | undefined;
  try {
    hand = await startHandWired(new Docker(), image, [mcpPort], 'warm');
    await new Promise((r) => setTimeout(r, 1000));
    await oneTest(hand.urls[0]!, hand.headers[0]!); // unmeasured: first use of the container
    for (let i = 0; i < ROUNDS; i++) {
      loads.push(loadavg()[0]!);
      cold.push(await oneTest(hand.urls[0]!, hand.headers[0]!));
      // The keeper: a session that used the browser once and stays open while the test runs.
      const keeper = await connectMcp(hand.urls[0]!, undefined, hand.headers[0]!);
      await keeper.client.callTool({ name: 'browser_navigate', arguments: { url: 'about:blank' } });
      warm.push(await oneTest(hand.urls[0]!, hand.headers[0]!));
      await keeper.close();
    }
  } finally {
    await hand?.stop();
    shop.kill('SIGTERM');
  }
  return (
    `one workload test on one container, ${ROUNDS} interleaved pairs, load ${Math.min(...loads).toFixed(0)}–${Math.max(...loads).toFixed(0)}: ` +
    `cold (as (c)) median ${median(cold).toFixed(0)} ms, with a warm browser held by a keeper session ${median(warm).toFixed(0)} ms ` +
    `(${((1 - median(warm) / median(cold)) * 100).toFixed(0)} % less)`
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(await run(process.argv[2] ?? process.env.THROUGHPUT_IMAGE ?? ''));
}
