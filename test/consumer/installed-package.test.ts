/**
 * The package as users get it (packed, installed into a project outside the repository; see
 * support/install-package.ts) runs a small suite through the pool with each runtime and with Redis: every test
 * passes, the queue serves priorities in order, and nothing is left running afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { startTestRedis } from '../support/redis-server.js';
import { annotation, leftoverProcesses, runPlaywright, type InlineRun } from '../e2e/support/inline-project.js';
import { freePortRange } from '../support/ports.js';

const RANK: Record<string, number> = { critical: 0, high: 1, normal: 2, low: 3 };
/** Its own image repository, removed before the first Docker run: that run must build the image itself. */
const IMAGE_REPO = 'cinnamon-qa-consumer/mcp';
const { dir, readOnlyModules } = inject('consumerProject');

/** A web app for the containers' browsers: on 0.0.0.0, so Docker's bridge reaches it as host.docker.internal. */
const APP = `
import { createServer } from 'node:http';
createServer((req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end('<!doctype html><title>consumer app</title><h1>Page ' + req.url + '</h1>');
}).listen(Number(process.argv[2]), '0.0.0.0');
`;

const spec = (priority: string, web: number) => `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
test.use({ priority: '${priority}' });
for (let i = 0; i < 2; i++) {
  test('${priority} ' + i, async ({ mcpContainer }) => {
    const result = await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/${priority}/' + i) } });
    // The server's answer names the page it reached: the app's title and the path this test asked for.
    expect(JSON.stringify(result)).toContain('Page Title: consumer app');
    expect(JSON.stringify(result)).toContain('/${priority}/' + i);
  });
}
`;

/** Writes this run's config and specs into the installed project (runs of this file go one after another). */
async function writeSuite(name: string, pool: Record<string, unknown>): Promise<{ dir: string; tmp: string; poolId: string }> {
  const base = await freePortRange(2);
  const web = base + 1;
  const poolId = `cqa-consumer-${name}`;
  const options = {
    ...pool,
    poolId,
    // Own container names: nothing else on this machine may be called like a default pool's containers.
    containerSpecs: [{ id: 'container-1', name: `${poolId}-1`, port: base }],
  };
  rmSync(join(dir, 'tests'), { recursive: true, force: true });
  mkdirSync(join(dir, 'tests'));
  for (const priority of ['low', 'normal', 'critical']) writeFileSync(join(dir, 'tests', `${priority}.spec.ts`), spec(priority, web));
  writeFileSync(join(dir, 'app.mjs'), APP);
  writeFileSync(
    join(dir, 'playwright.config.ts'),
    `
import { defineConfig } from '@playwright/test';
import { withContainerPool } from '@cinnamon-qa/containers/config';
export default withContainerPool(defineConfig({
  testDir: 'tests',
  workers: 3,
  timeout: 60_000,
  reporter: [['list'], ['json', { outputFile: 'report.json' }]],
  webServer: { command: 'node app.mjs ${web}', url: 'http://127.0.0.1:${web}/', reuseExistingServer: false },
}), { ...${JSON.stringify(options)}, redisUrl: process.env.REDIS_URL });
`,
  );
  const tmp = join(dir, `t${name.slice(0, 1)}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  return { dir, tmp, poolId };
}

function run(project: { dir: string; tmp: string }, env: Record<string, string>, timeoutMs = 300_000): Promise<InlineRun> {
  return runPlaywright(project, { cli: join(dir, 'node_modules/@playwright/test/cli.js'), env: { CINNAMON_POOL_RUNTIME: '', ...env }, timeoutMs });
}

/** Six tests passed on the one container, and whenever it was granted nobody more urgent was waiting. */
function expectPassedInPriorityOrder(result: InlineRun, containerName: string): void {
  expect(result.exitCode, result.output).toBe(0);
  const specs = result.tests.filter((t) => t.projectName !== 'container-pool-analytics');
  expect(specs.map((t) => `${t.title}: ${t.status}`).sort()).toEqual(
    ['critical 0', 'critical 1', 'low 0', 'low 1', 'normal 0', 'normal 1'].map((t) => `${t}: passed`),
  );
  for (const test of specs) expect(annotation(test, 'pool.container'), test.title).toBe(containerName);
  const allocations = result.snapshot!.analytics.allocations;
  expect(allocations.length).toBeGreaterThanOrEqual(3);
  for (const grant of allocations) {
    const jumped = allocations.filter(
      (other) => RANK[other.priority]! < RANK[grant.priority]! && other.requestedAt < grant.allocatedAt && other.allocatedAt > grant.allocatedAt,
    );
    expect(jumped, `${grant.priority} granted at ${grant.allocatedAt} while a more urgent request waited`).toEqual([]);
  }
}

function dockerContainers(poolId: string): string[] {
  const out = execFileSync('docker', ['ps', '-a', '--filter', `label=cinnamon-qa.pool=${poolId}`, '--format', '{{.Names}} {{.Status}}'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describe('the installed package (npm pack → npm install in a project outside the repository)', () => {
  it('is installed the way npm installs it from the registry', () => {
    // Root can mount; then the plugin must work with node_modules read-only (it writes nothing there).
    if (process.getuid?.() === 0) expect(readOnlyModules).toBe(true);
  });

  it("runtime: 'process' — passes in priority order and leaves no process", async () => {
    const project = await writeSuite('process', { runtime: 'process' });
    const result = await run(project, {});
    expect(result.output).toMatch(/\[cinnamon-pool\] runtime: process \(requested by runtime: 'process'\); store: memory/);
    expectPassedInPriorityOrder(result, `${project.poolId}-1`);
    expect(leftoverProcesses(project.tmp)).toEqual([]);
  });

  it.runIf(dockerAnswers())("runtime: 'docker' — builds its missing image on the first run, passes in priority order, leaves no container", async () => {
    // By tag, never by id: an identical build shares its id with the repository's own image, and removing the
    // id would take that tag away too.
    for (const tag of execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', IMAGE_REPO], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      execFileSync('docker', ['rmi', tag], { stdio: 'ignore' });
    }
    const project = await writeSuite('docker', { runtime: 'docker' });
    const result = await run(project, { MCP_IMAGE_REPO: IMAGE_REPO }, 900_000);
    expect(result.output).toContain('[cinnamon-pool] the MCP server image is missing: building it now');
    expect(result.output).toMatch(new RegExp(`\\[cinnamon-pool\\] built the MCP server image ${IMAGE_REPO}:\\S+ in \\d+\\.\\d s`));
    expect(result.output).toMatch(/\[cinnamon-pool\] runtime: docker \(requested by runtime: 'docker'; daemon answered at [^;]+; built image cinnamon-qa-consumer\/mcp:/);
    expectPassedInPriorityOrder(result, `${project.poolId}-1`);
    expect(dockerContainers(project.poolId)).toEqual([]);
  });

  it.runIf(dockerAnswers())("runtime: 'auto' with a Docker daemon and a real Redis — Docker containers, Redis state, in priority order, nothing left", async () => {
    const redis = await startTestRedis();
    try {
      const project = await writeSuite('redis', { runtime: 'auto' });
      const result = await run(project, { MCP_IMAGE_REPO: IMAGE_REPO, REDIS_URL: redis.url });
      expect(result.output).toMatch(/\[cinnamon-pool\] runtime: docker \(daemon answered at [^;]+ and image cinnamon-qa-consumer\/mcp:\S+ is present\); store: redis/);
      expectPassedInPriorityOrder(result, `${project.poolId}-1`);
      expect(dockerContainers(project.poolId)).toEqual([]);
      const client = redis.connect();
      try {
        // The run's state lived in Redis: its leases and history are there under the pool's prefix.
        expect((await client.keys(`*${project.poolId}*`)).length).toBeGreaterThan(0);
      } finally {
        client.disconnect();
      }
    } finally {
      await redis.stop();
    }
  });
});
