/**
 * A worker whose event loop stops keeps its container, its MCP session and its page (issue 8, part 3), seen
 * from a real `playwright test` run of an inline project on the process runtime:
 * - an 8 s stall (a CPU-starved runner) with the default lease TTL (15 s, renewed every 5 s);
 * - with `--timeout=0` (how Playwright users debug), a stall twice the lease TTL: the worker renews for
 *   `lease.debugTtlMs` and says so once.
 * The stalls are the only durations here, and they are the point: each is longer than what it must survive.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { leftoverProcesses, poolConfig, removeProject, runPlaywright, writeProject } from './support/inline-project.js';
import { freePortRange } from '../support/ports.js';

/** Guards against a hung run, not criteria: a run takes one to two minutes here with both cores busy. */
const RUN_GUARD_MS = 600_000;
const projects: string[] = [];
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

/** A test that opens a page, stops its worker's event loop for `stallMs`, then reads the page back. */
function stallSpec(stallMs: number): string {
  return `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
const page = 'data:text/html,' + encodeURIComponent('<!doctype html><title>stall</title><h1>survived the stall</h1>');
test('stalls ${stallMs} ms then calls a tool', async ({ mcpContainer }) => {
  const opened = await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: page } });
  expect(opened.isError ?? false).toBe(false);
  // Nothing in this worker runs meanwhile: no lease renewal, no answer to the MCP server.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${stallMs});
  const read = await mcpContainer.client.callTool({ name: 'browser_snapshot', arguments: {} });
  expect(JSON.stringify(read)).toContain('survived the stall');
});
`;
}

describe('stalled workers keep their container (process runtime, inline projects)', { timeout: RUN_GUARD_MS + 60_000 }, () => {
  it('a test that blocks its worker for 8 s then calls a tool passes', async () => {
    const base = await freePortRange(1);
    const project = writeProject(inject('cinnamonPackageDir'), {
      'playwright.config.ts': poolConfig({ pool: { containers: 1, basePort: base }, workers: 1 }),
      'tests/stall.spec.ts': stallSpec(8_000),
    });
    projects.push(project.dir);
    const run = await runPlaywright(project, { timeoutMs: RUN_GUARD_MS });
    expect(run.exitCode, run.output).toBe(0);
    const tests = run.tests.filter((t) => t.projectName !== 'container-pool-analytics');
    expect(tests.map((t) => t.status)).toEqual(['passed']);
    // Not a debugging session: the worker did not ask for a long lease.
    expect(run.output).not.toContain('[cinnamon-pool] debugging');
    expect(leftoverProcesses(run.tmp)).toEqual([]);
  });

  it('with --timeout=0 a test that blocks for twice the lease TTL keeps its lease, and the worker says why', async () => {
    const base = await freePortRange(1);
    const project = writeProject(inject('cinnamonPackageDir'), {
      // TTL 3 s: without the debugging lease a 6 s stall loses it (renewed every second, swept every second).
      'playwright.config.ts': poolConfig({ pool: { containers: 1, basePort: base, lease: { ttlMs: 3_000 } }, workers: 1 }),
      'tests/stall.spec.ts': stallSpec(6_000),
    });
    projects.push(project.dir);
    const run = await runPlaywright(project, { args: ['--timeout=0'], timeoutMs: RUN_GUARD_MS });
    expect(run.exitCode, run.output).toBe(0);
    const tests = run.tests.filter((t) => t.projectName !== 'container-pool-analytics');
    expect(tests.map((t) => t.status)).toEqual(['passed']);
    const lines = run.output.split('\n').filter((l) => l.includes('[cinnamon-pool] debugging'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      '[cinnamon-pool] debugging (test timeout 0): cinnamon-qa-mcp-1 stays leased to this worker while you debug (lease renewed for up to 60 min)',
    );
    // The pool saw no expiry: the lease ended by release.
    expect((run.snapshot?.audit ?? []).filter((e) => /expired/.test(e.type))).toEqual([]);
    expect(leftoverProcesses(run.tmp)).toEqual([]);
  });
});
