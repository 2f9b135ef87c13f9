import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { annotation, freePorts, leftoverProcesses, poolConfig, removeProject, runPlaywright, STATIC_SERVER, writeProject, type InlineRun } from './support/inline-project.js';

const RANK: Record<string, number> = { critical: 0, high: 1, normal: 2, low: 3 };
const projects: string[] = [];
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

function expectNoLeftovers(run: InlineRun): void {
  expect(leftoverProcesses(run.tmp)).toEqual([]);
  expect(existsSync(join(run.tmp, 'cqa-pool')), 'sandbox root left behind').toBe(false);
}

describe('scheduling through the pool (process runtime, inline projects)', () => {
  it('serves priorities in order with more workers than containers, annotates every test, keeps history', async () => {
    const base = await freePorts(2);
    const web = base + 1;
    const spec = (priority: string) => `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
test.use({ priority: '${priority}' });
for (let i = 0; i < 3; i++) {
  test('${priority} ' + i, async ({ mcpContainer }) => {
    const result = await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/${priority}/' + i) } });
    expect(JSON.stringify(result)).toContain('inline app');
    await new Promise((r) => setTimeout(r, 300));
  });
}
`;
    const project = writeProject(inject('cinnamonPackageDir'), {
      'server.mjs': STATIC_SERVER,
      'playwright.config.ts': poolConfig({ pool: { containers: 1, basePort: base }, workers: 3, webPort: web }),
      'tests/low.spec.ts': spec('low'),
      'tests/normal.spec.ts': spec('normal'),
      'tests/critical.spec.ts': spec('critical'),
    });
    projects.push(project.dir);
    const run = await runPlaywright(project);
    expect(run.exitCode, run.output).toBe(0);

    expect(run.output).toMatch(/\[cinnamon-pool\] runtime: process \(requested by CINNAMON_POOL_RUNTIME=process\); store: memory \(no redisUrl/);
    const specs = run.tests.filter((t) => t.projectName !== 'container-pool-analytics');
    expect(specs).toHaveLength(9);
    for (const test of specs) {
      expect(test.status, test.title).toBe('passed');
      expect(annotation(test, 'pool.container')).toBe('cinnamon-qa-mcp-1');
      expect(annotation(test, 'pool.priority')).toBe(test.title.split(' ')[0]);
      expect(Number(annotation(test, 'pool.waitMs'))).toBeGreaterThanOrEqual(0);
      expect(annotation(test, 'timeout.budgetMs')).toBe('30000');
      expect(annotation(test, 'timeout.extensions')).toBe('0');
    }

    // Whenever the container was handed to someone, nobody of higher priority was waiting for it.
    const allocations = run.snapshot!.analytics.allocations;
    expect(allocations.length).toBeGreaterThanOrEqual(3);
    for (const grant of allocations) {
      const jumped = allocations.filter(
        (other) => RANK[other.priority]! < RANK[grant.priority]! && other.requestedAt < grant.allocatedAt && other.allocatedAt > grant.allocatedAt,
      );
      expect(jumped, `${grant.priority} granted at ${grant.allocatedAt} while higher priority waited`).toEqual([]);
    }
    // The critical worker, once it holds the container, keeps it for its three tests (only lower ones wait).
    expect(allocations.filter((a) => a.priority === 'critical')).toHaveLength(1);

    const history = JSON.parse(readFileSync(join(project.dir, '.cinnamon-pool/history.json'), 'utf8')) as { tests: Record<string, number[]> };
    expect(Object.keys(history.tests)).toHaveLength(9);
    expect(history.tests['critical.spec.ts › critical 0']).toHaveLength(1);
    expectNoLeftovers(run);
    process.stderr.write(`e2e: 1 container / 3 workers / 9 tests: ${run.durationMs} ms\n`);
  });

  it('passes a run much longer than maxWaitTimeMs with more workers than containers (hand-back at test boundaries)', async () => {
    // 16 tests of at least 1.2 s on 2 containers that are never leased twice at once: the pool is busy for at
    // least 9.6 s by construction, more than twice maxWaitTimeMs (4 s), yet no request may wait that long.
    const base = await freePorts(2);
    const spec = (name: string) => `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
for (let i = 0; i < 4; i++) {
  test('${name} ' + i, async ({ mcpContainer }) => {
    const { tools } = await mcpContainer.client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1200));
  });
}
`;
    const project = writeProject(inject('cinnamonPackageDir'), {
      'playwright.config.ts': poolConfig({ pool: { containers: 2, basePort: base, resources: { maxWaitTimeMs: 4_000 } }, workers: 4 }),
      'tests/a.spec.ts': spec('a'),
      'tests/b.spec.ts': spec('b'),
      'tests/c.spec.ts': spec('c'),
      'tests/d.spec.ts': spec('d'),
    });
    projects.push(project.dir);
    const run = await runPlaywright(project);
    expect(run.exitCode, run.output).toBe(0);
    const specs = run.tests.filter((t) => t.projectName !== 'container-pool-analytics');
    expect(specs.filter((t) => t.status === 'passed')).toHaveLength(16);
    // Four workers at once, so the queue really was used...
    expect(new Set(specs.map((t) => t.workerIndex)).size).toBe(4);
    const allocations = run.snapshot!.analytics.allocations;
    expect(Math.max(...allocations.map((a) => a.waitMs))).toBeLessThan(4_000);
    // ...and the pool was busy far longer than any request may wait.
    const span = Math.max(...allocations.map((a) => a.releasedAt ?? 0)) - Math.min(...allocations.map((a) => a.requestedAt));
    expect(span).toBeGreaterThan(2 * 4_000);
    expectNoLeftovers(run);
    process.stderr.write(`e2e: 2 containers / 4 workers / 16 tests of 1.2 s, maxWait 4 s: ${run.durationMs} ms, ${allocations.length} allocations\n`);
  });

  it('keeps timeout history across runs (adaptive timeouts from the second run on) and resets a container in place', async () => {
    const base = await freePorts(2);
    const web = base + 1;
    const project = writeProject(inject('cinnamonPackageDir'), {
      'server.mjs': STATIC_SERVER,
      'playwright.config.ts': poolConfig({ pool: { containers: 1, basePort: base, timeouts: { minHistorySamples: 1 } }, workers: 1, webPort: web }),
      'tests/a.spec.ts': `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
test('steady', async ({ mcpContainer }) => {
  await mcpContainer.client.listTools();
  await new Promise((r) => setTimeout(r, 3_000));
});
test('reset between steps', async ({ mcpContainer }) => {
  await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/before') } });
  const reset = await mcpContainer.reset('soft');
  expect(reset.success).toBe(true);
  const after = await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/after') } });
  expect(JSON.stringify(after)).toContain('inline app');
});
`,
    });
    projects.push(project.dir);
    const first = await runPlaywright(project);
    expect(first.exitCode, first.output).toBe(0);
    const steady = (run: InlineRun) => run.tests.find((t) => t.title === 'steady')!;
    expect(annotation(steady(first), 'timeout.budgetMs')).toBe('30000');
    expect(first.snapshot!.audit.some((e) => e.type === 'reset')).toBe(true);

    const second = await runPlaywright(project);
    expect(second.exitCode, second.output).toBe(0);
    // One earlier sample of ~3 s: the adaptive rule (max(p95 × 1.5, mean × 2)) gives ~6-8 s instead of 30 s.
    const budget = Number(annotation(steady(second), 'timeout.budgetMs'));
    expect(budget).toBeGreaterThan(5_000);
    expect(budget).toBeLessThan(12_000);
    expect(second.output).toMatch(/durations of 2 tests loaded/);
    expectNoLeftovers(second);
  });
});
