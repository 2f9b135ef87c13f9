import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { openMcpSession, type McpSession } from '../fixtures/mcp-session.js';
import { credentialDecision, startMcpGuard, type McpGuard } from '../src/runtime/mcp-guard.js';
import { buildMcpServerArgv, buildMcpServerConfig, MCP_SERVER_LIFECYCLE_ENV } from '../src/runtime/mcp-server-command.js';
import { credentialHeaders, MemberCredentials } from '../src/runtime/member-credentials.js';
import { fenceMember } from '../src/runtime/member-fence.js';
import { probeTcpPort } from '../src/runtime/port-probe.js';
import { locateChromium } from '../src/runtime/process/chromium-locator.js';
import { resolveMcpPackage } from '../src/runtime/process/mcp-package.js';
import { freePorts } from '../test/support/ports.js';
import { machine, round, summarize, type Summary } from './latency.js';

/**
 * What the guard's credential check costs one MCP call (issue 10): one real @playwright/mcp server, two guards
 * from docker/image/mcp-guard.cjs in front of it (the process runtime's in-process guard): A with `key: null`
 * (Host/Origin only), B with the pool's public key, fenced to floor 1 by the pool's own fence call, and the
 * holder's lease credential (token 1). One MCP session through each, opened by the fixture's client; the only
 * difference between A and B is the check (both send the same Authorization header: A forwards it, B checks and
 * strips it).
 * A third guard C, like A with a session of its own, is the control: C − A is what two identical sides differ by
 * on this machine, the scale against which B − A is read. Calls interleave A, C, B (the order rotating) so all
 * sides see the same load, in ROUNDS rounds of CALLS each (ten times as many for the stub below) after a warm-up.
 *
 * Two calls: `tools/list` (answered by the server without touching the browser: the cheapest request, where a
 * guard cost shows most) and the tool `browser_tabs {action: 'list'}` (a real tool call; the browser is launched
 * during the warm-up).
 *
 * On a loaded 2-core machine a real call varies by tens of ms, far more than the check can cost, so two more
 * rows bound the check itself: the same A/B pair of guards in front of a stub upstream that answers a fixed
 * JSON-RPC result at once (the guard's whole path, no server noise), and `credentialDecision` alone (the work
 * B does that A does not). B verifies a credential's Ed25519 signature once and then finds it in its cache, so
 * the sides above measure the cached path (a lease's later requests); the first request of a lease is measured
 * on `credentialDecision` alone, over FRESH_CREDENTIALS new lease credentials, each decided twice in a row:
 * first uncached (signature verified), then cached.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const WARMUP = 50;
const MEMBER = 'container-1';
const LEASE_TOKEN = 1;
const TARGET_P99_DELTA_MS = 1;
const DECISIONS = 20_000;
/** New lease credentials (new token each) for the first-request row: each costs one signature to make. */
const FRESH_CREDENTIALS = Number(process.env.BENCH_FRESH ?? 5_000);
/** The stub rows are ~50× cheaper than a real call: more of them, for a p99 that rests on more than a few samples. */
const STUB_CALLS_FACTOR = 10;

type Call = (session: McpSession) => Promise<unknown>;

const CALLS_MEASURED: ReadonlyArray<{ name: string; call: Call }> = [
  { name: 'tools/list', call: (s) => s.client.listTools() },
  {
    name: "tool browser_tabs {action: 'list'}",
    call: async (s) => {
      const result = await s.client.callTool({ name: 'browser_tabs', arguments: { action: 'list' } });
      if (result.isError) throw new Error(`browser_tabs failed: ${JSON.stringify(result.content).slice(0, 300)}`);
      return result;
    },
  },
];

async function waitForPort(port: number, budgetMs: number): Promise<void> {
  const deadline = performance.now() + budgetMs;
  for (;;) {
    if ((await probeTcpPort('127.0.0.1', port, 1_000)).open) return;
    if (performance.now() > deadline) throw new Error(`the MCP server did not listen on 127.0.0.1:${port} within ${budgetMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An upstream that answers every request with one fixed JSON-RPC result, for the guard's path alone. */
async function startStub(): Promise<{ server: Server; port: number }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [] } });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** One POST through a guard on `port`, keep-alive, as an MCP client's JSON-RPC request would be sent. */
function post(agent: Agent, port: number, headers: Record<string, string>): Promise<void> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/mcp', agent, headers: { ...headers, host: `localhost:${port}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        res.resume();
        res.on('end', () => ((res.statusCode ?? 500) === 200 ? resolve() : reject(new Error(`guard on ${port} answered ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function timedNs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start);
}

function cell(s: Summary): string {
  return `${round(s.p50us / 1000, 3)} / ${round(s.p99us / 1000, 3)} / ${round(s.meanUs / 1000, 3)}`;
}

type Sides = { a: () => Promise<unknown>; c: () => Promise<unknown>; b: () => Promise<unknown> };
type SideName = keyof Sides;
/** Which side goes first rotates, so none always follows another's GC or socket reuse. */
const ORDERS: ReadonlyArray<readonly SideName[]> = [['a', 'c', 'b'], ['b', 'a', 'c'], ['c', 'b', 'a']];

/**
 * `calls` triples per round, the three sides interleaved, after `warmup` triples; one table row per round and
 * one for all rounds. C is a second guard without the check, its own session: C − A is the difference between
 * two identical sides, the noise floor against which B − A is read.
 */
async function measureSides(name: string, sides: Sides, warmup: number, calls: number, load: number[]): Promise<string[]> {
  for (let i = 0; i < warmup; i++) for (const side of ORDERS[i % ORDERS.length]!) await sides[side]();
  const rows: string[] = [];
  const all: Record<SideName, number[]> = { a: [], c: [], b: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const samples: Record<SideName, number[]> = { a: [], c: [], b: [] };
    for (let i = 0; i < calls; i++) for (const side of ORDERS[i % ORDERS.length]!) samples[side].push(await timedNs(sides[side]));
    load.push(loadavg()[0]!);
    for (const side of ['a', 'c', 'b'] as const) all[side].push(...samples[side]);
    rows.push(row(name, String(r + 1), samples, false));
  }
  rows.push(row(name, `all ${ROUNDS}`, all, true));
  return rows;
}

function row(name: string, label: string, samples: Record<SideName, number[]>, bold: boolean): string {
  const [a, c, b] = [summarize(samples.a), summarize(samples.c), summarize(samples.b)];
  const ms = (us: number) => String(round(us / 1000, 3));
  const cells = [name, label, cell(a), cell(b), ms(b.p50us - a.p50us), ms(b.p99us - a.p99us), ms(c.p50us - a.p50us), ms(c.p99us - a.p99us)];
  return `| ${cells.map((x) => (bold ? `**${x}**` : x)).join(' | ')} |`;
}

/** `credentialDecision` alone, DECISIONS times, each timed: what B does per request that A does not. */
function measureDecision(key: string, authorization: string): Summary {
  const samples: number[] = [];
  for (let i = 0; i < DECISIONS + WARMUP * 20; i++) {
    const start = process.hrtime.bigint();
    const decision = credentialDecision(key, MEMBER, LEASE_TOKEN, authorization);
    const ns = Number(process.hrtime.bigint() - start);
    if (!decision.admit) throw new Error(`the bench's own credential was refused: ${decision.why}`);
    if (i >= WARMUP * 20) samples.push(ns);
  }
  return summarize(samples);
}

/**
 * The first request of a lease against its later ones: FRESH_CREDENTIALS lease credentials with new tokens (signed
 * outside the timing), each decided twice in a row; the first decision verifies the signature, the second finds
 * it in the guard's cache.
 */
function measureFirstRequest(credentials: MemberCredentials, key: string): { fresh: Summary; cached: Summary } {
  const fresh: number[] = [];
  const cached: number[] = [];
  for (let i = 0; i < FRESH_CREDENTIALS + WARMUP; i++) {
    const authorization = credentialHeaders(credentials.forLease(MEMBER, `bench-lease-${i}`, LEASE_TOKEN + 1 + i)).Authorization!;
    for (const samples of [fresh, cached]) {
      const start = process.hrtime.bigint();
      const decision = credentialDecision(key, MEMBER, LEASE_TOKEN, authorization);
      const ns = Number(process.hrtime.bigint() - start);
      if (!decision.admit) throw new Error(`the bench's own credential was refused: ${decision.why}`);
      if (i >= WARMUP) samples.push(ns);
    }
  }
  return { fresh: summarize(fresh), cached: summarize(cached) };
}

export async function run(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cqa-guard-bench-'));
  const [serverPort, portA, portC, portB, stubPortA, stubPortC, stubPortB] = (await freePorts(7)) as [number, number, number, number, number, number, number];
  const input = {
    cliPath: resolveMcpPackage().cliPath,
    port: serverPort,
    chromiumPath: locateChromium().executablePath,
    configPath: join(dir, 'config.json'),
    // Each guard forwards the Host its client sent (localhost:<guard port>), as in the process runtime: the
    // server must accept the Host of every guard.
    allowedHosts: [portA, portC, portB].flatMap((port) => [`localhost:${port}`, `127.0.0.1:${port}`]),
  };
  await writeFile(input.configPath, JSON.stringify(buildMcpServerConfig(input)));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PLAYWRIGHT_MCP_')));
  // Its own process group, so the server and the Chromium it launched end together.
  const child: ChildProcess = spawn(process.execPath, buildMcpServerArgv(input), { cwd: dir, env: { ...env, ...MCP_SERVER_LIFECYCLE_ENV, HOME: dir }, stdio: 'ignore', detached: true });
  const stub = await startStub();
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const guards: McpGuard[] = [];
  const sessions: McpSession[] = [];
  const load: number[] = [loadavg()[0]!];
  const startedAt = new Date().toISOString();
  try {
    await waitForPort(serverPort, 60_000);
    const credentials = new MemberCredentials();
    const key = credentials.keyOf(MEMBER);
    const pool = credentials.forPool(MEMBER);
    const credential = credentials.forLease(MEMBER, 'bench-lease', LEASE_TOKEN);
    const plan = [
      [portA, serverPort, false],
      [portC, serverPort, false],
      [portB, serverPort, true],
      [stubPortA, stub.port, false],
      [stubPortC, stub.port, false],
      [stubPortB, stub.port, true],
    ] as const;
    for (const [port, upstreamPort, checked] of plan) {
      guards.push(await startMcpGuard(checked ? { port, upstreamPort, key, member: MEMBER } : { port, upstreamPort, key: null }));
      // A fresh guard admits no lease until the pool fences it: the pool's own call, as after every start.
      if (checked) await fenceMember({ containerId: MEMBER, port, credential: pool }, LEASE_TOKEN);
    }
    const none = () => undefined;
    const open = async (port: number, name: string) => {
      const session = await openMcpSession(`http://localhost:${port}/mcp`, credential, none, name);
      sessions.push(session);
      return session;
    };
    const a = await open(portA, 'guard-bench-no-check');
    const c = await open(portC, 'guard-bench-no-check-control');
    const b = await open(portB, 'guard-bench-check');

    const rows: string[] = [];
    for (const { name, call } of CALLS_MEASURED) rows.push(...(await measureSides(name, { a: () => call(a), c: () => call(c), b: () => call(b) }, WARMUP, CALLS, load)));
    const headers = credentialHeaders(credential);
    const stubSides = { a: () => post(agent, stubPortA, headers), c: () => post(agent, stubPortC, headers), b: () => post(agent, stubPortB, headers) };
    rows.push(...(await measureSides('stub upstream: POST /mcp', stubSides, WARMUP * 10, CALLS * STUB_CALLS_FACTOR, load)));
    const decision = measureDecision(key, headers.Authorization!);
    const first = measureFirstRequest(credentials, key);
    load.push(loadavg()[0]!);
    const us = (s: Summary) => `p50 ${s.p50us} µs, p99 ${s.p99us} µs, mean ${s.meanUs} µs`;
    return [
      `### Guard credential check: one MCP call through the guard without (A) and with (B) the check (${ROUNDS} rounds × ${CALLS} calls per side, ${CALLS * STUB_CALLS_FACTOR} for the stub, interleaved, after a warm-up)`,
      '',
      `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${machine()}, ${startedAt} → ${new Date().toISOString()}; 1-minute load average ${load.map((l) => l.toFixed(1)).join(' → ')} (start, after each round, after the decision rows).`,
      '',
      `A: guard with \`key: null\` (Host/Origin only). B: guard with the pool's public key, fenced to floor ${LEASE_TOKEN}, the lease credential checked (Ed25519 signature verified on its first request, a cache lookup after) and stripped on every request. C: a second guard like A, its own session (the control: C − A is the noise between two identical sides). Same server, same client, same header bytes; the three interleaved. Target: B − A p99 ≤ ${TARGET_P99_DELTA_MS} ms.`,
      '',
      '| call | round | A no check p50 / p99 / mean ms | B check p50 / p99 / mean ms | B − A p50 ms | B − A p99 ms | control C − A p50 ms | C − A p99 ms |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      `\`credentialDecision\` alone, the same lease credential ${DECISIONS} times (cached, as on B above): ${us(decision)}.`,
      '',
      `First request of a lease against later ones (\`credentialDecision\`, ${FRESH_CREDENTIALS} new lease credentials, each decided twice in a row): first, signature verified: ${us(first.fresh)}; second, cached: ${us(first.cached)}.`,
    ].join('\n');
  } finally {
    for (const s of sessions) await s.close();
    for (const g of guards) await g.close();
    agent.destroy();
    await new Promise((resolve) => stub.server.close(resolve));
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  }
}
