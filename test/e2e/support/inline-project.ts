/**
 * Playwright's runInlineTest, for this plugin: write a small project into a temp folder, link the built
 * package and @playwright/test into its node_modules, run `playwright test` as a user would, and hand back
 * exit code, output, the JSON report and the pool's final analytics snapshot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './build-package.js';

export interface JsonReportTest {
  title: string;
  file: string;
  status: string;
  annotations: Array<{ type: string; description?: string }>;
  errors: string[];
  workerIndex: number;
  startTime: string;
  duration: number;
  projectName: string;
}

export interface InlineRun {
  dir: string;
  /** TMPDIR of the run: the process runtime's sandboxes live under it. */
  tmp: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  durationMs: number;
  tests: JsonReportTest[];
  snapshot: { analytics: { allocations: Array<{ testRunId: string; priority: string; containerId: string; requestedAt: number; allocatedAt: number; releasedAt: number | null; waitMs: number }> } & Record<string, unknown>; audit: Array<{ type: string } & Record<string, unknown>> } | undefined;
}

export interface RunOptions {
  /** Extra CLI arguments after `test`. */
  args?: string[];
  /** Playwright's cli.js to run. @defaultValue the repository's own @playwright/test */
  cli?: string;
  env?: Record<string, string>;
  /** @defaultValue 180000 ms */
  timeoutMs?: number;
  /** Sees output as it comes, with the child (to send it a signal). */
  onOutput?: (text: string, child: ChildProcess) => void;
}

/** Writes `files` into a fresh project folder linked to the built package. */
export function writeProject(packageDir: string, files: Record<string, string>): { dir: string; tmp: string } {
  // Short: the process runtime keeps Chromium's socket path under TMPDIR within 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'cqa-e2e-'));
  const tmp = join(dir, 't');
  mkdirSync(tmp);
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@cinnamon-qa'), { recursive: true });
  mkdirSync(join(modules, '@playwright'), { recursive: true });
  symlinkSync(packageDir, join(modules, '@cinnamon-qa', 'containers'), 'dir');
  // The same @playwright/test the package resolves (one copy: Playwright refuses two).
  symlinkSync(join(REPO_ROOT, 'node_modules/@playwright/test'), join(modules, '@playwright', 'test'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'inline', private: true, type: 'module' }));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return { dir, tmp };
}

export async function runPlaywright(project: { dir: string; tmp: string }, options: RunOptions = {}): Promise<InlineRun> {
  const { dir, tmp } = project;
  const snapshotFile = join(dir, 'pool-snapshot.json');
  const t0 = performance.now();
  const cli = options.cli ?? join(REPO_ROOT, 'node_modules/@playwright/test/cli.js');
  const child = spawn(process.execPath, [cli, 'test', ...(options.args ?? [])], {
    cwd: dir,
    // Own process group: a test can deliver Ctrl-C the way a terminal does (to the whole group).
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...withoutPlaywrightVars(process.env),
      TMPDIR: tmp,
      FORCE_COLOR: '0',
      PW_TEST_HTML_REPORT_OPEN: 'never',
      CINNAMON_POOL_RUNTIME: 'process',
      CINNAMON_POOL_SNAPSHOT: snapshotFile,
      ...options.env,
    },
  });
  let output = '';
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    options.onOutput?.(text, child);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const timeoutMs = options.timeoutMs ?? 180_000;
  const { exitCode, signal } = await new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const timer = setTimeout(() => {
      output += `\n[inline-project] timed out after ${timeoutMs} ms; killing the run\n`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ exitCode: code, signal: sig });
    });
  });
  return {
    dir,
    tmp,
    exitCode,
    signal,
    output,
    durationMs: Math.round(performance.now() - t0),
    tests: readJsonReport(join(dir, 'report.json')),
    snapshot: existsSync(snapshotFile) ? (JSON.parse(readFileSync(snapshotFile, 'utf8')) as InlineRun['snapshot']) : undefined,
  };
}

/** A vitest worker may run inside Playwright-ish env; none of that may leak into the child run. */
function withoutPlaywrightVars(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const key of Object.keys(copy)) {
    if (key.startsWith('PW_') || key.startsWith('PLAYWRIGHT_') || key.startsWith('CINNAMON_') || key === 'TEST_WORKER_INDEX' || key === 'CI') delete copy[key];
  }
  return copy;
}

interface RawSuite {
  title: string;
  file: string;
  suites?: RawSuite[];
  specs?: Array<{
    title: string;
    file: string;
    tests: Array<{ projectName: string; annotations: Array<{ type: string; description?: string }>; results: Array<{ status: string; errors?: Array<{ message?: string }>; workerIndex: number; startTime: string; duration: number; annotations?: Array<{ type: string; description?: string }> }> }>;
  }>;
}

function readJsonReport(file: string): JsonReportTest[] {
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as { suites: RawSuite[] };
  const tests: JsonReportTest[] = [];
  const walk = (suite: RawSuite) => {
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests) {
        const result = test.results.at(-1);
        tests.push({
          title: spec.title,
          file: spec.file,
          projectName: test.projectName,
          status: result?.status ?? 'skipped',
          annotations: [...(result?.annotations ?? []), ...test.annotations],
          errors: (result?.errors ?? []).map((e) => e.message ?? ''),
          workerIndex: result?.workerIndex ?? -1,
          startTime: result?.startTime ?? '',
          duration: result?.duration ?? 0,
        });
      }
    }
    for (const child of suite.suites ?? []) walk(child);
  };
  for (const suite of report.suites) walk(suite);
  return tests;
}

export function annotation(test: JsonReportTest, type: string): string | undefined {
  return test.annotations.find((a) => a.type === type)?.description;
}

/**
 * Processes still running from this run's sandboxes: the process runtime marks each MCP server and its
 * Chromium with CINNAMON_QA_SANDBOX=<sandbox>, under TMPDIR.
 */
export function leftoverProcesses(tmp: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (!environ.includes(`CINNAMON_QA_SANDBOX=${tmp}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (/\) Z /.test(stat)) continue;
      found.push(`${entry} ${readFileSync(`/proc/${entry}/cmdline`, 'latin1').replace(/\0/g, ' ').slice(0, 120)}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

export function removeProject(dir: string): void {
  // A run killed by its guard may leave a Chromium writing its profile for a moment (ENOTEMPTY): retry.
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
}

/** A tiny static site for the inline project's webServer. */
export const STATIC_SERVER = `
import { createServer } from 'node:http';
const port = Number(process.argv[2]);
createServer((req, res) => {
  res.setHeader('content-type', 'text/html');
  res.end('<!doctype html><title>inline app</title><h1>Hello from ' + req.url + '</h1>');
}).listen(port, '127.0.0.1');
`;

/** playwright.config.ts of an inline project: our plugin around a plain config, JSON report to report.json. */
export function poolConfig(options: { pool: Record<string, unknown>; workers: number; webPort?: number; use?: Record<string, unknown>; timeoutMs?: number }): string {
  const webServer = options.webPort
    ? `webServer: { command: 'node server.mjs ${options.webPort}', url: 'http://127.0.0.1:${options.webPort}/', reuseExistingServer: false },`
    : '';
  return `
import { defineConfig } from '@playwright/test';
import { withContainerPool } from '@cinnamon-qa/containers';
export default withContainerPool(defineConfig({
  testDir: 'tests',
  workers: ${options.workers},
  timeout: ${options.timeoutMs ?? 30_000},
  reporter: [['list'], ['json', { outputFile: 'report.json' }]],
  use: ${JSON.stringify(options.use ?? {})},
  ${webServer}
}), ${JSON.stringify(options.pool)});
`;
}

/** The pid of the MCP server listening on `port` (found by its command line), for tests that kill it. */
export const FIND_SERVER_PID = `
import { readdirSync, readFileSync } from 'node:fs';
export function mcpServerPid(port: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\\d+$/.test(entry)) continue;
    try {
      const args = readFileSync('/proc/' + entry + '/cmdline', 'utf8').split('\\0');
      // The process runtime's Origin/Host guard owns the pool port and the server listens on a private one,
      // so the pool port appears in --allowed-hosts (and in --port only for a server started without guard).
      const i = args.indexOf('--port');
      const h = args.indexOf('--allowed-hosts');
      const named = (i >= 0 && args[i + 1] === String(port)) || (h >= 0 && (args[h + 1] ?? '').split(',').includes('localhost:' + port));
      if (named && args.some((a) => a.endsWith('cli.js'))) return Number(entry);
    } catch {}
  }
  throw new Error('no MCP server process on port ' + port);
}
`;
