import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { annotation, FIND_SERVER_PID, leftoverProcesses, poolConfig, removeProject, runPlaywright, STATIC_SERVER, writeProject } from './support/inline-project.js';
import { freePortRange } from '../support/ports.js';

const projects: string[] = [];
/** Guards against a hung run, not criteria: one `playwright test` run takes a minute or two with both cores busy. */
const RUN_GUARD_MS = 600_000;
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

describe('failures a user meets (process runtime, inline projects)', { timeout: 2 * RUN_GUARD_MS }, () => {
  it('grants extensions up to maxExtensions, rejects a bad priority, and a killed container fails only its own test', async () => {
    const base = await freePortRange(3);
    const web = base + 2;
    const project = writeProject(inject('cinnamonPackageDir'), {
      'server.mjs': STATIC_SERVER,
      'find-server.ts': FIND_SERVER_PID,
      'playwright.config.ts': poolConfig({ pool: { containers: 2, basePort: base, timeouts: { maxExtensions: 2 } }, workers: 2, webPort: web }),
      'tests/extension.spec.ts': `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
test.use({ priority: 'high' });
test('extends twice, then is refused', async ({ mcpContainer }, testInfo) => {
  const first = await mcpContainer.requestTimeoutExtension(5_000, 'payment sandbox is slow');
  expect(first).toMatchObject({ granted: true, timeoutMs: 35_000 });
  expect(testInfo.timeout).toBe(35_000);
  const second = await mcpContainer.requestTimeoutExtension(5_000, 'still slow');
  expect(second.granted).toBe(true);
  const third = await mcpContainer.requestTimeoutExtension(5_000, 'one more please');
  expect(third.granted).toBe(false);
  expect(third.reason).toMatch(/maxExtensions \\(2\\)/);
  expect(testInfo.timeout).toBe(40_000);
});
`,
      'tests/bad-priority.spec.ts': `
import { test } from '@cinnamon-qa/containers/fixtures';
test.use({ priority: 'urgent' as never });
test('never runs', async ({ mcpContainer }) => {
  void mcpContainer;
});
`,
      'tests/killed.spec.ts': `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
import { mcpServerPid } from '../find-server.ts';
test('victim', async ({ mcpContainer }) => {
  await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/victim') } });
  process.kill(mcpServerPid(mcpContainer.port), 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/again') } });
});
test('survivor', async ({ mcpContainer }) => {
  const result = await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/survivor') } });
  expect(JSON.stringify(result)).toContain('inline app');
});
`,
    });
    projects.push(project.dir);
    const run = await runPlaywright(project, { timeoutMs: RUN_GUARD_MS });
    expect(run.exitCode, run.output).toBe(1);
    const byTitle = Object.fromEntries(run.tests.map((t) => [t.title, t]));

    const extension = byTitle['extends twice, then is refused']!;
    expect(extension.status, extension.errors.join('\n')).toBe('passed');
    expect(annotation(extension, 'timeout.extensions')).toBe('2');
    expect(annotation(extension, 'timeout.budgetMs')).toBe('40000');
    expect(annotation(extension, 'pool.priority')).toBe('high');

    const bad = byTitle['never runs']!;
    expect(bad.status).toBe('failed');
    expect(bad.errors.join('\n')).toMatch(/Unknown priority "urgent": use one of 'critical', 'high', 'normal', 'low'/);

    const victim = byTitle['victim']!;
    expect(victim.status).toBe('failed');
    expect(victim.errors.join('\n')).toMatch(/Container cinnamon-qa-mcp-\d \(container-\d, port \d+\) failed while this test held it: .*(exit|signal|SIGKILL|died)/i);
    expect(byTitle['survivor']!.status, byTitle['survivor']!.errors.join('\n')).toBe('passed');

    const audit = run.snapshot!.audit.map((e) => e.type);
    expect(audit).toContain('lease-revoked');
    expect(leftoverProcesses(run.tmp)).toEqual([]);
    expect(existsSync(join(run.tmp, 'cqa-pool'))).toBe(false);
  });

  it('fails at config load on bad options, naming each bad path', async () => {
    const project = writeProject(inject('cinnamonPackageDir'), {
      'playwright.config.ts': poolConfig({ pool: { containers: 0, runtime: 'dokker', resources: { maxWaitTimeMs: -1 } }, workers: 1 }),
      'tests/a.spec.ts': `import { test } from '@cinnamon-qa/containers/fixtures'; test('a', () => {});`,
    });
    projects.push(project.dir);
    const run = await runPlaywright(project, { timeoutMs: RUN_GUARD_MS });
    expect(run.exitCode).toBe(1);
    expect(run.output).toMatch(/Invalid withContainerPool options:/);
    expect(run.output).toMatch(/runtime: must be one of "auto", "docker", "process" \(got "dokker"\)/);
    expect(run.output).toMatch(/containers: .*>=1 \(got 0\)/);
    expect(run.output).toMatch(/resources\.maxWaitTimeMs/);
  });

  it('fails the run with a typed error when the configured Redis is unreachable', async () => {
    const [port] = [await freePortRange(1)];
    const project = writeProject(inject('cinnamonPackageDir'), {
      'playwright.config.ts': poolConfig({ pool: { containers: 1, basePort: port, redisUrl: `redis://127.0.0.1:${port}` }, workers: 1 }),
      'tests/a.spec.ts': `import { test } from '@cinnamon-qa/containers/fixtures'; test('a', async ({ mcpContainer }) => { void mcpContainer; });`,
    });
    projects.push(project.dir);
    const run = await runPlaywright(project, { timeoutMs: RUN_GUARD_MS });
    expect(run.exitCode).toBe(1);
    expect(run.output).toMatch(new RegExp(`Redis at redis://127\\.0\\.0\\.1:${port}/? \\(option redisUrl\\) is unreachable`));
    expect(run.output).toMatch(/remove redisUrl to use the embedded in-memory store/);
    expect(leftoverProcesses(project.tmp)).toEqual([]);
  });

  it('fails the run at start naming the container and the fix when a container cannot start, and stops the rest', async () => {
    const base = await freePortRange(2);
    // Something that is not an MCP server already listens on the second container's port.
    const squatter = createServer((_req, res) => res.end('not mcp'));
    await new Promise<void>((resolve) => squatter.listen(base + 1, '127.0.0.1', resolve));
    try {
      const project = writeProject(inject('cinnamonPackageDir'), {
        'playwright.config.ts': poolConfig({ pool: { containers: 2, basePort: base, health: { startupTimeoutMs: 4_000, stageTimeoutMs: 2_000 } }, workers: 1 }),
        'tests/a.spec.ts': `import { test } from '@cinnamon-qa/containers/fixtures'; test('a', async ({ mcpContainer }) => { void mcpContainer; });`,
      });
      projects.push(project.dir);
      const run = await runPlaywright(project, { timeoutMs: RUN_GUARD_MS });
      expect(run.exitCode).toBe(1);
      expect(run.output).toMatch(/The container pool could not start; everything started was stopped\./);
      expect(run.output).toMatch(new RegExp(`container container-2 failed: port ${base + 1} on 127\\.0\\.0\\.1 is already in use.*Fix: `));
      expect(leftoverProcesses(project.tmp)).toEqual([]);
      expect(existsSync(join(project.tmp, 'cqa-pool'))).toBe(false);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
