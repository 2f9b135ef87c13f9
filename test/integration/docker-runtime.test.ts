import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../src/clock/clock.js';
import type { ContainerSpec } from '../../src/config/pool-config.js';
import type { RunContext, RuntimeEvent, StartContext } from '../../src/runtime/container-runtime.js';
import { DockerRuntime } from '../../src/runtime/docker/docker-runtime.js';
import { MemberCredentials } from '../../src/runtime/member-credentials.js';
import { connectMcp, describeContainerRuntimeContract } from '../contract/container-runtime.contract.js';
import { freePorts } from '../support/ports.js';
import { dockerUnavailableReason } from '../support/docker.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));


const unavailable = await dockerUnavailableReason();
if (unavailable && !process.env.CI) {
  console.warn(`[docker-runtime.test] skipped: ${unavailable}. Start dockerd (or set DOCKER_HOST) to run it; in CI it fails instead.`);
}

const skip = unavailable !== undefined && !process.env.CI;

describe.skipIf(skip)(`DockerRuntime against a real daemon${skip ? ` (skipped: ${unavailable})` : ''}`, () => {
  const docker = new Docker();
  const clock = new SystemClock();
  // Unique per file run: labels select only what this file made, even next to a real pool or another run.
  const poolId = `it-docker-${randomBytes(4).toString('hex')}`;
  const ctx: RunContext = { poolId, runId: `run-${randomBytes(4).toString('hex')}` };
  const credentials = new MemberCredentials();
  const startCtx: StartContext = { ...ctx, guardKey: (id) => credentials.keyOf(id) };
  const pool = (id: string) => credentials.forPool(id);
  const events: RuntimeEvent[] = [];
  const timings: Record<string, number> = {};
  let image = '';
  let runtime: DockerRuntime;
  let specs: ContainerSpec[] = [];
  let webServer: Server | undefined;
  let webPort = 0;
  const webText = `cinnamon page ${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    if (unavailable) throw new Error(`CI is set but Docker cannot be used: ${unavailable}`);
    const started = performance.now();
    // Idempotent: a no-op when the image exists, otherwise the full offline build (about a minute here).
    const { stdout } = await run('bash', ['docker/build-image.sh'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    image = stdout.trim().split('\n').pop() ?? '';
    timings.imageBuildOrCheckMs = performance.now() - started;

    const ports = await freePorts(2);
    specs = ports.map((port, i) => ({ id: `container-${i + 1}`, name: `${poolId}-mcp-${i + 1}`, port, memoryMB: 768, cpuPercent: 100 }));
    runtime = new DockerRuntime({ image, clock });
    runtime.onEvent((event) => events.push(event));

    webPort = (await freePorts(1))[0]!;
    webServer = createHttpServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><title>Integration page</title><h1>${webText}</h1>`);
    });
    // 0.0.0.0: the container reaches the host through the bridge gateway, not through loopback.
    await new Promise<void>((resolve) => webServer!.listen(webPort, '0.0.0.0', resolve));
  });

  afterAll(async () => {
    await runtime?.close().catch(() => undefined);
    webServer?.close();
    // Safety net when a test failed half-way: nothing labelled with this pool may outlive the file.
    for (const c of await docker.listContainers({ all: true, filters: { label: [`cinnamon-qa.pool=${poolId}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    for (const n of await docker.listNetworks({ filters: { label: [`cinnamon-qa.pool=${poolId}`] } })) {
      await docker.getNetwork(n.Id).remove().catch(() => undefined);
    }
    console.info(`[docker-runtime.test] timings (ms): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
  });

  it('starts two containers whose ports are published on 127.0.0.1 only', async () => {
    const started = performance.now();
    const infos = await Promise.all(specs.map((spec) => runtime.start(spec, startCtx)));
    timings.startCallMs = performance.now() - started;
    await Promise.all(specs.map((spec) => waitForPort(spec.port, 20_000)));
    timings.startToPortOpenMs = performance.now() - started;
    const clients = await Promise.all(specs.map((spec) => connectMcp(spec.port, 20_000, pool(spec.id))));
    timings.startToMcpReadyMs = performance.now() - started;
    await Promise.all(clients.map((client) => client.close()));

    expect(infos.map((i) => i.name)).toEqual(specs.map((s) => s.name));
    for (const [i, info] of infos.entries()) {
      const details = await docker.getContainer(info.runtimeId).inspect();
      expect(details.State.Running).toBe(true);
      expect(details.NetworkSettings.Ports[`${specs[i]!.port}/tcp`]).toEqual([{ HostIp: '127.0.0.1', HostPort: String(specs[i]!.port) }]);
      expect(details.Config.Labels).toMatchObject({ 'cinnamon-qa.pool': poolId, 'cinnamon-qa.run': ctx.runId, 'cinnamon-qa.container': info.id });
    }
    // Not reachable on any other host address.
    const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (external) await expect(tcpConnect(external.address, specs[0]!.port, 1_000)).rejects.toThrow();
  });

  it('serves MCP: browser_navigate to a host page via host.docker.internal, then browser_snapshot reads it', async () => {
    const client = await connectMcp(specs[0]!.port, 10_000, pool(specs[0]!.id));
    try {
      const { tools } = await client.listTools();
      const navigate = tools.find((t) => t.name === 'browser_navigate');
      const snapshot = tools.find((t) => t.name === 'browser_snapshot');
      expect(navigate && snapshot).toBeTruthy();
      // Argument names come from the server's own schema, not from memory of some version.
      const urlArg = Object.keys(navigate!.inputSchema.properties ?? {}).find((k) => /url/i.test(k));
      expect(urlArg).toBeDefined();

      const started = performance.now();
      const navigated = await client.callTool({ name: 'browser_navigate', arguments: { [urlArg!]: `http://host.docker.internal:${webPort}/` } });
      timings.firstNavigateMs = performance.now() - started;
      expect(navigated.isError ?? false).toBe(false);
      const read = await client.callTool({ name: 'browser_snapshot', arguments: {} });
      expect(textOf(read)).toContain(webText);
    } finally {
      await client.close();
    }
  });

  it('applies every hardening setting (docker inspect) and isolates pool containers from each other', async () => {
    const spec = specs[0]!;
    const details = await docker.getContainer(await runtimeIdOf(spec.id)).inspect();
    const host = details.HostConfig;
    expect(host.Memory).toBe(spec.memoryMB * 1024 * 1024);
    expect(host.MemorySwap).toBe(spec.memoryMB * 1024 * 1024);
    expect(host.NanoCpus).toBe(spec.cpuPercent * 1e7);
    expect(host.PidsLimit).toBeGreaterThan(0);
    expect(host.ShmSize).toBeGreaterThanOrEqual(256 * 1024 * 1024);
    expect(host.SecurityOpt).toContain('no-new-privileges:true');
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd ?? []).toEqual([]);
    expect(host.Privileged).toBe(false);
    expect(host.ReadonlyRootfs).toBe(true);
    expect(Object.keys(host.Tmpfs ?? {}).sort()).toEqual(['/mcp/home', '/mcp/run', '/mcp/work', '/tmp']);
    expect(host.Init).toBe(true);
    expect(host.ExtraHosts).toContain('host.docker.internal:host-gateway');
    expect(host.RestartPolicy?.Name).toBe('no');
    expect(details.Config.User).toMatch(/^[1-9][0-9]*:[0-9]+$/);
    // The sandbox marker cleanup finds a holder's re-parented processes by.
    expect(details.Config.Env).toContain(`CINNAMON_QA_SANDBOX=${details.Name.replace(/^\//, '')}`);
    // No mounts at all, so certainly not the Docker socket.
    expect(details.Mounts).toEqual([]);
    expect(host.Binds ?? []).toEqual([]);

    const networks = Object.keys(details.NetworkSettings.Networks);
    expect(networks).toHaveLength(1);
    const network = await docker.getNetwork(networks[0]!).inspect();
    expect(network.Options?.['com.docker.network.bridge.enable_icc']).toBe('false');
    expect(network.Labels).toMatchObject({ 'cinnamon-qa.pool': poolId, 'cinnamon-qa.run': ctx.runId });

    // Live check: container 1 cannot open a TCP connection to container 2's server, but reaches its own.
    const other = await docker.getContainer(await runtimeIdOf(specs[1]!.id)).inspect();
    const otherIp = Object.values(other.NetworkSettings.Networks)[0]!.IPAddress;
    const probe = (target: string, port: number) =>
      runtime.exec(spec.id, ['node', '-e', `const s=require('net').connect(${port},'${target}',()=>{console.log('open');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(1)});setTimeout(()=>{console.log('timeout');process.exit(1)},1500)`]);
    expect((await probe('127.0.0.1', spec.port)).stdout.trim()).toBe('open');
    expect((await probe(otherIp, specs[1]!.port)).stdout.trim()).not.toBe('open');
    // Nor through the host: the other port is published on the host's loopback only.
    expect((await probe('host.docker.internal', specs[1]!.port)).stdout.trim()).not.toBe('open');
  });

  it('exec runs in the image\'s paths under the read-only root, with the container name as sandbox marker', async () => {
    const id = specs[0]!.id;
    const script = 'printf "%s\\n" "$MCP_HOME" "$MCP_TMPDIR" "$MCP_WORKDIR" "$MCP_SANDBOX"; touch /forbidden 2>&1 || true';
    const result = await runtime.exec(id, ['sh', '-c', script]);
    const [home, tmp, work, sandbox, touch] = result.stdout.trim().split('\n');
    expect({ home, tmp, work, sandbox }).toEqual({ home: '/mcp/home', tmp: '/tmp', work: '/mcp/work', sandbox: specs[0]!.name });
    // The server writes its output under the working directory, which is writable while / is not.
    expect(touch).toMatch(/Read-only file system/);
  });

  it('inspect turns healthy from the image HEALTHCHECK (which sends the pool credential through the guard)', async () => {
    const deadline = performance.now() + 30_000;
    let state = await runtime.inspect(specs[0]!.id);
    while (state.health !== 'healthy' && performance.now() < deadline) {
      await sleep(250);
      state = await runtime.inspect(specs[0]!.id);
    }
    expect(state).toEqual({ running: true, health: 'healthy' });
    const details = await docker.getContainer(await runtimeIdOf(specs[0]!.id)).inspect();
    expect(details.State.Health?.Log?.at(-1)?.ExitCode).toBe(0);
  });

  it('the guard key is in the guard\'s environment only: not in the server\'s, nor in what exec runs', async () => {
    const id = specs[0]!.id;
    // Read with a plain `docker exec` (the container's configured environment, not mcp-exec's), for both processes.
    const environ = async (pidFile: string) =>
      (await run('docker', ['exec', specs[0]!.name, 'sh', '-c', `tr '\\0' '\\n' </proc/$(cat "$MCP_RUNDIR/${pidFile}")/environ`])).stdout.split('\n');
    const server = await environ('server.pid');
    const guard = await environ('guard.pid');
    // Both reads worked (each process has MCP_PORT): an empty read must not pass for "no key".
    expect(server).toContain(`MCP_PORT=${specs[0]!.port}`);
    expect(guard).toContain(`MCP_PORT=${specs[0]!.port}`);
    expect(guard).toContain(`MCP_GUARD_KEY=${credentials.keyOf(id)}`);
    expect(server.filter((line) => line.startsWith('MCP_GUARD_KEY'))).toEqual([]);
    const exec = await runtime.exec(id, ['sh', '-c', 'env']);
    expect(exec.stdout.split('\n').filter((line) => line.startsWith('MCP_GUARD_KEY'))).toEqual([]);
  });

  it('recreate replaces the Docker container (a new id, the old one removed)', async () => {
    const id = specs[1]!.id;
    const oldRuntimeId = await runtimeIdOf(id);
    const recreatedAt = performance.now();
    const info = await runtime.recreate(id);
    expect(info.runtimeId).not.toBe(oldRuntimeId);
    await expect(docker.getContainer(oldRuntimeId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await connectMcp(specs[1]!.port, 20_000, pool(specs[1]!.id)).then((client) => client.close());
    timings.recreateToMcpReadyMs = performance.now() - recreatedAt;
    while ((await runtime.inspect(id)).health !== 'healthy' && performance.now() - recreatedAt < 30_000) await sleep(100);
    timings.recreateToHealthyMs = performance.now() - recreatedAt;
  });

  it('a container restarted after a kill reports its next death too (the restart left no stale "expected exit")', async () => {
    await runtime.eventsReady();
    const id = specs[1]!.id;
    const nextDeath = () =>
      new Promise<RuntimeEvent>((resolve) => {
        const off = runtime.onEvent((event) => {
          if (event.type === 'died' && event.containerId === id) {
            off();
            resolve(event);
          }
        });
      });
    // The previous test killed it: bring it back the way a hard reset does, then kill it again at once.
    if ((await runtime.inspect(id)).running) {
      const first = nextDeath();
      await docker.getContainer(await runtimeIdOf(id)).kill();
      await first;
    }
    await runtime.restart(id);
    expect((await runtime.inspect(id)).running).toBe(true);
    const second = nextDeath();
    await docker.getContainer(await runtimeIdOf(id)).kill();
    // Only a guard against hanging (the death is reported from the event stream; its time is the test above's).
    const event = await Promise.race([second, sleep(30_000).then(() => undefined)]);
    expect(event).toMatchObject({ type: 'died', containerId: id });
  });

  it('stop removes the Docker container and forgets it', async () => {
    const id = specs[1]!.id;
    const runtimeId = await runtimeIdOf(id);
    await runtime.stop(id);
    await expect(docker.getContainer(runtimeId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(runtime.inspect(id)).rejects.toMatchObject({ code: 'RUNTIME_ERROR' });
  });

  it('reaps what a crashed earlier run of the same pool left behind, and spares a live one', async () => {
    // The other run is another process of this host, as a second `playwright test` of the same pool would be.
    const other: RunContext = { poolId, runId: `other-${randomBytes(3).toString('hex')}` };
    const [port] = await freePorts(1);
    const dir = await mkdtemp(join(tmpdir(), 'cqa-docker-run-'));
    const script = join(dir, 'other-run.mts');
    await writeFile(
      script,
      `import { SystemClock } from ${JSON.stringify(join(repoRoot, 'src/clock/clock.js'))};
import { DockerRuntime } from ${JSON.stringify(join(repoRoot, 'src/runtime/docker/docker-runtime.js'))};
const runtime = new DockerRuntime({ image: ${JSON.stringify(image)}, clock: new SystemClock() });
const info = await runtime.start({ id: 'container-9', name: ${JSON.stringify(`${poolId}-mcp-9`)}, port: ${port}, memoryMB: 256, cpuPercent: 50 }, { ...${JSON.stringify(other)}, guardKey: () => ${JSON.stringify(credentials.keyOf('container-9'))} });
console.log(JSON.stringify(info));
setInterval(() => undefined, 1000);
`,
    );
    const owner = spawn(process.execPath, ['--import', 'tsx', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        owner.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString()));
        owner.once('exit', (code) => reject(new Error(`the other run's script exited early with ${code}`)));
      });
      const leftover = JSON.parse(line) as { runtimeId: string };

      // While its owner lives, the other run is not a leftover: its container and network stay.
      const next = new DockerRuntime({ image, clock });
      expect(await next.reapLeftovers(ctx)).toEqual([]);
      expect((await docker.getContainer(leftover.runtimeId).inspect()).State.Running).toBe(true);

      // The crash: its owner dies without close(); now it is a leftover.
      owner.kill('SIGKILL');
      await new Promise((resolve) => owner.once('exit', resolve));
      const removed = await next.reapLeftovers(ctx);
      expect(removed).toContain(`${poolId}-mcp-9`);
      expect(removed.some((name) => name.includes(other.runId))).toBe(true);
      await expect(docker.getContainer(leftover.runtimeId).inspect()).rejects.toMatchObject({ statusCode: 404 });
      // This run's own containers survive the reap.
      expect((await runtime.inspect(specs[0]!.id)).running).toBe(true);
      await next.close();
    } finally {
      owner.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a missing image fails the start saying how to build it', async () => {
    const missing = new DockerRuntime({ image: 'cinnamon-qa/no-such-image:0', clock });
    await expect(missing.start({ ...specs[0]!, id: 'container-7', name: `${poolId}-mcp-7` }, startCtx)).rejects.toThrow(/npx cinnamon-pool image build/);
    await missing.close();
  });

  async function runtimeIdOf(id: string): Promise<string> {
    const found = await docker.listContainers({ all: true, filters: { label: [`cinnamon-qa.pool=${poolId}`, `cinnamon-qa.container=${id}`, `cinnamon-qa.run=${ctx.runId}`] } });
    expect(found).toHaveLength(1);
    return found[0]!.Id;
  }
});


describeContainerRuntimeContract(
  'docker',
  async () => {
    const docker = new Docker();
    const { stdout } = await run('bash', ['docker/build-image.sh'], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
    const image = stdout.trim().split('\n').pop() ?? '';
    const poolId = `it-docker-contract-${randomBytes(4).toString('hex')}`;
    const ctx: RunContext = { poolId, runId: `run-${randomBytes(4).toString('hex')}` };
    const runtime = new DockerRuntime({ image, clock: new SystemClock() });
    const filters = { label: [`cinnamon-qa.pool=${poolId}`] };
    const containers = () => docker.listContainers({ all: true, filters });
    const networks = () => docker.listNetworks({ filters });
    return {
      runtime,
      ctx,
      namePrefix: poolId,
      eventsReady: () => runtime.eventsReady(),
      async killServer(id) {
        const [found] = await docker.listContainers({ all: true, filters: { label: [...filters.label, `cinnamon-qa.container=${id}`] } });
        await docker.getContainer(found!.Id).kill();
      },
      leftovers: async () => [...(await containers()).map((c) => c.Names[0] ?? c.Id), ...(await networks()).map((n) => n.Name)],
      async cleanup() {
        for (const c of await containers()) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        for (const n of await networks()) await docker.getNetwork(n.Id).remove().catch(() => undefined);
      },
    };
  },
  { skip },
);

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timeout connecting to ${host}:${port}`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function waitForPort(port: number, budgetMs: number): Promise<void> {
  const deadline = performance.now() + budgetMs;
  for (;;) {
    try {
      await tcpConnect('127.0.0.1', port, 500);
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await sleep(50);
    }
  }
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((part) => part.text ?? '').join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
