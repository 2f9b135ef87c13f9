import { afterEach, describe, expect, inject, it } from 'vitest';
import { annotation, leftoverProcesses, poolConfig, removeProject, runPlaywright, STATIC_SERVER, writeProject } from './support/inline-project.js';
import { freePortRange } from '../support/ports.js';

const projects: string[] = [];
/** Guards against a hung run, not criteria: one `playwright test` run takes a minute or two with both cores busy. */
const RUN_GUARD_MS = 600_000;
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

describe('pre-warmed sessions (issue 13; process runtime, inline project)', { timeout: 2 * RUN_GUARD_MS }, () => {
  it("a test on the same worker gets the session opened during the last one, and none of the last test's state", async () => {
    const base = await freePortRange(2);
    const web = base + 1;
    // Cookie, localStorage and sessionStorage set by one test on the app's origin; the next looks on the same origin.
    const plant = `() => { document.cookie = 'holder=first; max-age=3600'; localStorage.setItem('holder', 'first'); sessionStorage.setItem('holder', 'first'); return 'planted cookie=[' + document.cookie + '] ls=' + localStorage.length + ' ss=' + sessionStorage.length; }`;
    const look = `() => 'seen cookie=[' + document.cookie + '] ls=' + localStorage.length + ' ss=' + sessionStorage.length`;
    const project = writeProject(inject('cinnamonPackageDir'), {
      'server.mjs': STATIC_SERVER,
      'playwright.config.ts': poolConfig({ pool: { containers: 1, basePort: base }, workers: 1, webPort: web }),
      'tests/isolation.spec.ts': `
import { test, expect, type McpContainer } from '@cinnamon-qa/containers/fixtures';
async function page(c: McpContainer, fn: string): Promise<string> {
  const nav = await c.client.callTool({ name: 'browser_navigate', arguments: { url: c.appUrl('http://localhost:${web}/app') } });
  expect(JSON.stringify(nav)).toContain('inline app');
  const result = (await c.client.callTool({ name: 'browser_evaluate', arguments: { function: fn } })) as { content: Array<{ text?: string }> };
  return result.content.map((p) => p.text ?? '').join(' ');
}
test('1 plants', async ({ mcpContainer }) => {
  expect(await page(mcpContainer, ${JSON.stringify(plant)})).toContain('planted cookie=[holder=first] ls=1 ss=1');
});
test('2 looks', async ({ mcpContainer }) => {
  expect(await page(mcpContainer, ${JSON.stringify(look)})).toContain('seen cookie=[] ls=0 ss=0');
});
test('3 resets, then plants', async ({ mcpContainer }) => {
  await mcpContainer.client.listTools();
  expect((await mcpContainer.reset('soft')).success).toBe(true);
  expect(await page(mcpContainer, ${JSON.stringify(plant)})).toContain('planted cookie=[holder=first] ls=1 ss=1');
});
test('4 looks', async ({ mcpContainer }) => {
  expect(await page(mcpContainer, ${JSON.stringify(look)})).toContain('seen cookie=[] ls=0 ss=0');
});
`,
    });
    projects.push(project.dir);
    const run = await runPlaywright(project, { timeoutMs: RUN_GUARD_MS });
    expect(run.exitCode, run.output).toBe(0);
    const ours = (r: typeof run) => r.tests.filter((t) => t.file.endsWith('isolation.spec.ts'));
    const byTitle = new Map(ours(run).map((t) => [t.title, t]));
    expect([...byTitle.keys()].sort()).toEqual(['1 plants', '2 looks', '3 resets, then plants', '4 looks']);
    // One worker, one lease: the first test opens its session, every later one gets the spare opened while the
    // test before it ran (test 4's was opened after test 3's reset, in the browser the reset left).
    expect(new Set(ours(run).map((t) => t.workerIndex)).size).toBe(1);
    expect(new Set(ours(run).map((t) => annotation(t, 'pool.container'))).size).toBe(1);
    expect(annotation(byTitle.get('1 plants')!, 'pool.session')).toBe('opened');
    expect(annotation(byTitle.get('2 looks')!, 'pool.session')).toBe('prewarmed');
    expect(annotation(byTitle.get('4 looks')!, 'pool.session')).toBe('prewarmed');
    expect(leftoverProcesses(project.tmp)).toEqual([]);

    // Turned off, every test opens its own session and says nothing about it.
    const off = await runPlaywright(project, { timeoutMs: RUN_GUARD_MS, env: { CINNAMON_POOL_PREWARM_SESSIONS: '0' } });
    expect(off.exitCode, off.output).toBe(0);
    expect(ours(off).map((t) => annotation(t, 'pool.session'))).toEqual([undefined, undefined, undefined, undefined]);
  });
});
