import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { leftoverProcesses, poolConfig, removeProject, runPlaywright, writeProject } from './support/inline-project.js';
import { freePortRange } from '../support/ports.js';

const projects: string[] = [];
afterEach(() => {
  for (const dir of projects.splice(0)) removeProject(dir);
});

/** A run whose tests hold their containers for a minute, so the signal lands mid-run. */
async function longRun(signal: 'SIGINT' | 'SIGTERM', target: 'group' | 'runner') {
  const base = await freePortRange(2);
  const project = writeProject(inject('cinnamonPackageDir'), {
    'playwright.config.ts': poolConfig({ pool: { containers: 2, basePort: base }, workers: 2, timeoutMs: 120_000 }),
    'tests/a.spec.ts': `
import { test } from '@cinnamon-qa/containers/fixtures';
test.describe.configure({ mode: 'parallel' });
for (const name of ['one', 'two']) {
  test(name, async ({ mcpContainer }) => {
    await mcpContainer.client.listTools();
    console.log('[holding ' + mcpContainer.name + ']');
    await new Promise((r) => setTimeout(r, 60_000));
  });
}
`,
  });
  projects.push(project.dir);
  let sentAt = 0;
  let holding = 0;
  const run = await runPlaywright(project, {
    // A guard against a hung run: start-up with both cores busy can take a minute before both tests hold.
    timeoutMs: 300_000,
    onOutput: (text, child) => {
      holding += (text.match(/\[holding /g) ?? []).length;
      if (holding >= 2 && !sentAt) {
        sentAt = performance.now();
        // A terminal's Ctrl-C reaches the whole foreground process group; `kill` reaches one process.
        process.kill(target === 'group' ? -child.pid! : child.pid!, signal);
      }
    },
  });
  return { run, stopMs: Math.round(performance.now() - sentAt), sent: sentAt > 0 };
}

describe('interrupting a run leaves nothing behind', { timeout: 600_000 }, () => {
  it('Ctrl-C (SIGINT to the process group) mid-run stops every container and removes the sandboxes', async () => {
    const { run, stopMs, sent } = await longRun('SIGINT', 'group');
    expect(sent, run.output).toBe(true);
    expect(run.exitCode, run.output).not.toBe(0);
    expect(leftoverProcesses(run.tmp)).toEqual([]);
    expect(existsSync(join(run.tmp, 'cqa-pool')), run.output).toBe(false);
    process.stderr.write(`e2e: SIGINT to exit: ${stopMs} ms\n`);
  });

  it('SIGTERM to the runner mid-run stops every container and removes the sandboxes', async () => {
    const { run, stopMs, sent } = await longRun('SIGTERM', 'runner');
    expect(sent, run.output).toBe(true);
    // 143 = 128 + SIGTERM, set by our handler after the pool stopped (a default death would leave MCP servers running).
    expect(run.exitCode, run.output).toBe(143);
    // Workers outlive a killed runner briefly; the MCP servers must not.
    expect(leftoverProcesses(run.tmp)).toEqual([]);
    expect(existsSync(join(run.tmp, 'cqa-pool')), run.output).toBe(false);
    process.stderr.write(`e2e: SIGTERM to exit: ${stopMs} ms\n`);
  });
});
