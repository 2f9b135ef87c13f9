import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { removeProject, runPlaywright, writeProject } from './support/inline-project.js';
import { freePortRange } from '../support/ports.js';
import { PNG_SIGNATURE, summarisePng } from './support/png-pixels.js';
import { zipEntries } from './support/zip-entries.js';

const projects: string[] = [];
afterEach(() => {
  // CQA_E2E_KEEP=1 keeps the inline project (reports included) for a look.
  for (const dir of projects.splice(0)) if (!process.env.CQA_E2E_KEEP) removeProject(dir);
});

/** A page with visible content (a dark banner, a heading, a list) that logs to the console and fetches. */
const SHOP_SERVER = `
import { createServer } from 'node:http';
const port = Number(process.argv[2]);
createServer((req, res) => {
  if (req.url.startsWith('/api/')) { res.setHeader('content-type', 'application/json'); res.end('{"items":[]}'); return; }
  res.setHeader('content-type', 'text/html');
  res.end(\`<!doctype html><title>evidence shop</title>
<body style="margin:0;font:20px sans-serif">
<div style="background:#123456;color:#fff;padding:40px"><h1>Evidence shop</h1></div>
<ul><li>Red kettle</li><li>Blue teapot</li></ul>
<button onclick="console.warn('checkout clicked')">Checkout</button>
<script>console.log('shop ready'); console.error('price service down'); fetch('/api/cart?id=42');</script>
</body>\`);
}).listen(port, '127.0.0.1');
`;

interface RawAttachment {
  name: string;
  contentType: string;
  path?: string;
  body?: string;
}
interface RawStep {
  title: string;
  error?: { message?: string };
  steps?: RawStep[];
}
interface RawResult {
  status: string;
  errors: Array<{ message?: string }>;
  attachments: RawAttachment[];
  steps: RawStep[];
  annotations?: Array<{ type: string; description?: string }>;
}

function resultsByTitle(reportFile: string): Map<string, RawResult> {
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { suites: Array<{ specs?: Array<{ title: string; tests: Array<{ results: RawResult[] }> }>; suites?: unknown[] }> };
  const found = new Map<string, RawResult>();
  const walk = (suite: { specs?: Array<{ title: string; tests: Array<{ results: RawResult[] }> }>; suites?: unknown[] }) => {
    for (const spec of suite.specs ?? []) found.set(spec.title, spec.tests[0]!.results.at(-1)!);
    for (const child of suite.suites ?? []) walk(child as typeof suite);
  };
  report.suites.forEach(walk);
  return found;
}

function flatSteps(steps: RawStep[] = []): RawStep[] {
  return steps.flatMap((s) => [s, ...flatSteps(s.steps)]);
}

function attachmentBytes(dir: string, a: RawAttachment): Buffer {
  if (a.body !== undefined) return Buffer.from(a.body, 'base64');
  return readFileSync(a.path!.startsWith('/') ? a.path! : join(dir, a.path!));
}

describe('failure evidence from the container (process runtime, inline project)', () => {
  it('a failing test carries MCP steps, screenshot, snapshot, console and network; a passing one under only-on-failure carries none', async () => {
    const base = await freePortRange(2);
    const web = base + 1;
    const project = writeProject(inject('cinnamonPackageDir'), {
      'server.mjs': SHOP_SERVER,
      'playwright.config.ts': `
import { defineConfig } from '@playwright/test';
import { withContainerPool } from '@cinnamon-qa/containers';
export default withContainerPool(defineConfig({
  testDir: 'tests',
  workers: 1,
  timeout: 60_000,
  reporter: [['list'], ['json', { outputFile: 'report.json' }], ['html', { outputFolder: 'html-report', open: 'never' }]],
  use: { screenshot: 'only-on-failure', trace: 'on' },
  webServer: { command: 'node server.mjs ${web}', url: 'http://127.0.0.1:${web}/', reuseExistingServer: false },
}), { containers: 1, basePort: ${base} });
`,
      'tests/shop.spec.ts': `
import { test, expect } from '@cinnamon-qa/containers/fixtures';
test('checkout shows a welcome (fails on purpose)', async ({ mcpContainer }) => {
  await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/shop?session=secret-token') } });
  const page = await mcpContainer.client.callTool({ name: 'browser_snapshot', arguments: {} });
  expect(JSON.stringify(page), 'the shop greets the user').toContain('Welcome back');
});
test('shop lists products (passes; one tool call answers isError)', async ({ mcpContainer }) => {
  const page = await mcpContainer.client.callTool({ name: 'browser_navigate', arguments: { url: mcpContainer.appUrl('http://localhost:${web}/shop') } });
  expect(JSON.stringify(page)).toContain('Page Title: evidence shop');
  const click = await mcpContainer.client.callTool({ name: 'browser_click', arguments: { element: 'missing button', target: '#does-not-exist' } });
  expect(click.isError).toBe(true);
});
`,
    });
    projects.push(project.dir);
    const run = await runPlaywright(project);
    expect(run.exitCode, run.output).toBe(1);

    const results = resultsByTitle(join(project.dir, 'report.json'));
    const failed = results.get('checkout shows a welcome (fails on purpose)')!;
    const passed = results.get('shop lists products (passes; one tool call answers isError)')!;
    expect(failed.status).toBe('failed');
    expect(passed.status, JSON.stringify(passed.errors)).toBe('passed');

    // The real error is the test's own, not hidden by anything the evidence did.
    expect(failed.errors.map((e) => e.message).join('\n')).toContain('the shop greets the user');
    expect(failed.annotations?.find((a) => a.type === 'pool.evidence'), 'evidence left out').toBeUndefined();

    // MCP calls are steps, with redacted arguments (the JSON report lists the test body's steps).
    const titles = flatSteps(failed.steps).map((s) => s.title);
    expect(titles).toContain(`mcp: browser_navigate http://localhost:${web}/shop?…`);
    expect(titles).toContain('mcp: browser_snapshot');
    const clickStep = flatSteps(passed.steps).find((s) => s.title.startsWith('mcp: browser_click'));
    expect(clickStep?.title).toBe('mcp: browser_click "missing button" target=#does-not-exist');
    expect(clickStep?.error?.message, 'an isError answer marks its step').toBeTruthy();

    // Evidence of the failure: a PNG of the page with content, the snapshot, console and network.
    const byName = new Map(failed.attachments.map((a) => [a.name, a]));
    const shot = byName.get('screenshot');
    expect(shot?.contentType).toBe('image/png');
    const png = attachmentBytes(project.dir, shot!);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const pixels = summarisePng(png);
    expect(pixels.width).toBeGreaterThan(100);
    // The dark banner alone covers several percent of the viewport; a blank page is one colour.
    expect(pixels.colours).toBeGreaterThan(2);
    expect(pixels.nonBackground).toBeGreaterThan(0.02);
    expect(attachmentBytes(project.dir, byName.get('page snapshot')!).toString()).toContain('Evidence shop');
    const console = attachmentBytes(project.dir, byName.get('console messages')!).toString();
    expect(console).toContain('shop ready');
    expect(console).toContain('price service down');
    expect(attachmentBytes(project.dir, byName.get('network requests')!).toString()).toContain('/api/cart');

    // trace: 'on' → a trace of the container's browser context, recorded in the container: Playwright's trace
    // format (trace.trace, trace.network, screencast frames) with the page's actions.
    const containerTrace = failed.attachments.find((a) => a.name === 'trace' && a.body !== undefined);
    expect(containerTrace?.contentType, JSON.stringify(failed.annotations)).toBe('application/zip');
    const browserTrace = zipEntries(attachmentBytes(project.dir, containerTrace!));
    expect([...browserTrace.keys()]).toEqual(expect.arrayContaining(['trace.trace', 'trace.network']));
    const browserEvents = browserTrace.get('trace.trace')!.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; version?: number; method?: string; params?: { url?: string } });
    expect(browserEvents[0]).toMatchObject({ type: 'context-options' });
    expect(browserEvents.some((e) => e.type === 'before' && e.method === 'goto' && e.params?.url?.includes('/shop')), 'navigation in the browser trace').toBe(true);
    expect(browserEvents.some((e) => e.type === 'before' && e.method === 'screenshot'), 'the evidence screenshot in the browser trace').toBe(true);
    for (const name of browserTrace.keys()) expect(name).toMatch(/^(trace\.trace|trace\.network|resources\/[\w.-]+|screencast\/[\w@.-]+)$/);

    // ...and Playwright's own trace of the test holds the MCP calls and the pool's work as actions.
    const trace = failed.attachments.find((a) => a.name === 'trace' && a.path !== undefined);
    expect(trace?.path && existsSync(trace.path), 'trace.zip attached').toBeTruthy();
    const traceEntries = zipEntries(readFileSync(trace!.path!));
    const events = [...traceEntries.entries()]
      .filter(([name]) => name.endsWith('.trace'))
      .flatMap(([, body]) => body.toString('utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; title?: string }));
    expect(events.filter((e) => e.type === 'before' && e.title?.startsWith('mcp: browser_navigate')).length).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'before' && e.title === 'pool: evidence from cinnamon-qa-mcp-1'), 'evidence step in the trace').toBe(true);
    expect(events.some((e) => e.type === 'before' && e.title === 'pool: container at priority normal'), 'wait step in the trace').toBe(true);

    // The passing test under 'only-on-failure' gets none of it (its trace is the user's 'on').
    expect(passed.attachments.map((a) => a.name).filter((n) => n !== 'trace')).toEqual([]);

    // The HTML report's data hold every step (hooks included: the pool's wait and the evidence) and the files.
    const html = readFileSync(join(project.dir, 'html-report/index.html'), 'utf8');
    const embedded = /data:application\/zip;base64,([A-Za-z0-9+/=]+)/.exec(html);
    expect(embedded, 'HTML report data').not.toBeNull();
    const htmlTests = [...zipEntries(Buffer.from(embedded![1]!, 'base64')).entries()]
      .filter(([name]) => name !== 'report.json')
      .flatMap(([, body]) => (JSON.parse(body.toString('utf8')) as { tests: Array<{ title: string; results: RawResult[] }> }).tests);
    const htmlFailed = htmlTests.find((t) => t.title === 'checkout shows a welcome (fails on purpose)')!.results.at(-1)!;
    const htmlTitles = flatSteps(htmlFailed.steps).map((s) => s.title);
    expect(htmlTitles, htmlTitles.join(' | ')).toContain('pool: container at priority normal');
    expect(htmlTitles.some((t) => /^(waited \d+\.\d s for container-1 \(cinnamon-qa-mcp-1\) at priority normal|kept container-1 \(cinnamon-qa-mcp-1\) from the previous test)$/.test(t))).toBe(true);
    const evidenceStep = flatSteps(htmlFailed.steps).find((s) => s.title === 'pool: evidence from cinnamon-qa-mcp-1');
    expect((evidenceStep?.steps ?? []).map((s) => s.title)).toContain('mcp: browser_take_screenshot type=png scale=css');
    expect(htmlTitles.join('\n')).not.toContain('secret-token');
    const htmlPassed = htmlTests.find((t) => t.title.startsWith('shop lists products'))!.results.at(-1)!;
    expect(flatSteps(htmlPassed.steps).map((s) => s.title)).not.toContain('pool: evidence from cinnamon-qa-mcp-1');
    const htmlShot = htmlFailed.attachments.find((a) => a.name === 'screenshot');
    expect(htmlShot?.path, 'screenshot file in the HTML report').toMatch(/^data\/[0-9a-f]+\.png$/);
    expect(readFileSync(join(project.dir, 'html-report', htmlShot!.path!)).equals(png)).toBe(true);
    for (const name of ['page snapshot', 'console messages', 'network requests']) expect(htmlFailed.attachments.map((a) => a.name)).toContain(name);
  });
});
