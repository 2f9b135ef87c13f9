import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../config/pool-config.js';
import type { HealthGate, HealthReport } from '../health/health-gate.js';
import type { ContainerRuntime, ExecResult, RuntimeContainerInfo, RuntimeState, RuntimeStats } from '../runtime/container-runtime.js';
import { CleanupService } from './cleanup-service.js';
import { ContainerResetManager } from './container-reset-manager.js';
import { SANDBOX_MARKER_ENV } from '../runtime/container-runtime.js';
import { terminateBrowserArgv, validateArgv } from './sandbox-scripts.js';
import { parseScriptReport } from './script-report.js';

/**
 * The scripts run for real here: a fake runtime whose exec spawns `sh` on this machine with the exec
 * environment contract pointing at a temporary sandbox, a fake "MCP server" process (a shell) whose children
 * play the browser, and a TCP listener on MCP_PORT. That is what the process runtime does too, sandbox
 * marker included: the server and every exec carry CINNAMON_QA_SANDBOX=<root>, and exec gets MCP_SANDBOX.
 */
class ShellSandbox implements ContainerRuntime {
  readonly kind = 'fake' as const;
  readonly limitations = [];
  readonly home: string;
  readonly tmp: string;
  readonly work: string;
  readonly bin: string;
  server: ChildProcess | undefined;
  /** Overrides of the contract variables, to test the scripts' guards. */
  env: Record<string, string> = {};
  execs = 0;
  private listener: Server | undefined;
  private readonly spawned: ChildProcess[] = [];
  port = 0;

  constructor(readonly root: string) {
    this.home = join(root, 'home');
    this.tmp = join(root, 'tmp');
    this.work = join(root, 'work');
    this.bin = join(root, 'bin');
  }

  async setUp(): Promise<void> {
    for (const dir of [this.home, this.tmp, this.work, this.bin]) await mkdir(dir, { recursive: true });
    // The kernel names a process after the file it executed: these links make `sleep` and `sh` look like
    // Chromium and its crash handler to ps.
    await symlink('/bin/sleep', join(this.bin, 'chromium'));
    await symlink('/bin/sh', join(this.bin, 'chrome_crashpad_handler'));
    this.listener = createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => this.listener!.listen(0, '127.0.0.1', resolve));
    this.port = (this.listener.address() as AddressInfo).port;
  }

  /** Starts the fake server: `sh -c <script>`, with BIN pointing at the fake browser binaries. */
  async startServer(script: string): Promise<number> {
    this.server = spawn('sh', ['-c', script], { env: { ...process.env, BIN: this.bin, [SANDBOX_MARKER_ENV]: this.root }, stdio: 'ignore', detached: true });
    this.spawned.push(this.server);
    await new Promise((resolve) => setTimeout(resolve, 150));
    return this.server.pid!;
  }

  /** A process outside the server's tree (re-parented helper, or another pool's process). */
  spawnOutside(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn(command, args, { env, stdio: 'ignore', detached: true });
    this.spawned.push(child);
    return child;
  }

  connectClient(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.port, '127.0.0.1', () => resolve(socket));
      socket.on('error', reject);
    });
  }

  async tearDown(): Promise<void> {
    for (const child of this.spawned) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await new Promise<void>((resolve) => (this.listener ? this.listener.close(() => resolve()) : resolve()));
  }

  async exec(_id: string, argv: readonly string[], options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    this.execs++;
    const env = {
      ...process.env,
      MCP_HOME: this.home,
      MCP_TMPDIR: this.tmp,
      MCP_WORKDIR: this.work,
      MCP_SERVER_PID: String(this.server?.pid ?? ''),
      MCP_PORT: String(this.port),
      [SANDBOX_MARKER_ENV]: this.root,
      MCP_SANDBOX: this.root,
      ...this.env,
    };
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { cwd: this.work, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ exitCode: code ?? 137, stdout, stderr });
      });
    });
  }

  async reapLeftovers(): Promise<string[]> {
    return [];
  }
  async start(spec: ContainerSpec): Promise<RuntimeContainerInfo> {
    return { id: spec.id, name: spec.name, port: spec.port, runtimeId: '' };
  }
  async stop(): Promise<void> {}
  async restart(): Promise<void> {}
  async recreate(id: string): Promise<RuntimeContainerInfo> {
    return { id, name: id, port: this.port, runtimeId: '' };
  }
  async inspect(): Promise<RuntimeState> {
    return { running: true, health: 'none' };
  }
  async stats(): Promise<RuntimeStats> {
    return { memoryMB: 0, cpuPercent: 0 };
  }
  onEvent(): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {}
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers kill(0); it is gone for every purpose here.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** The parent pid of a process, from /proc. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Children of a pid, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

const readyGate: HealthGate = {
  async isContainerReady(port: number, containerId?: string): Promise<HealthReport> {
    return { containerId, port, ready: true, stages: [], durationMs: 1 };
  },
};

describe('sandbox scripts, run with sh against a temporary sandbox', () => {
  let sandbox: ShellSandbox;

  beforeEach(async () => {
    sandbox = new ShellSandbox(await mkdtemp(join(tmpdir(), 'cq-sandbox-')));
    await sandbox.setUp();
  });

  afterEach(async () => {
    await sandbox.tearDown();
    await rm(sandbox.root, { recursive: true, force: true });
  });

  /** What a browser session leaves, as seen with @playwright/mcp 0.0.83 in both runtimes. */
  async function leaveBrowserDebris(): Promise<void> {
    const files: Record<string, string> = {
      'tmp/playwright_chromiumdev_profile-Hkx5MB/Default/Cookies': 'c',
      'tmp/playwright-artifacts-8gKMlt/video.webm': 'v',
      'tmp/org.chromium.Chromium.qXfI0l/SingletonCookie': 's',
      'tmp/pw-7505d64a/browser/browser-72d6da.sock': '',
      'tmp/.hidden-lock': '',
      'work/.playwright-mcp/page-2026-11-26T06-41-14-504Z.yml': '- heading "hi"',
      'work/.playwright-mcp/console-2026.log': 'log',
      'work/screenshot.png': 'png',
      'work/notes/a.txt': 'x',
      'home/.cache/ms-playwright/b/registry.json': '{}',
      'home/.cache/fontconfig/CACHEDIR.TAG': '',
      'home/.config/chromium/Crash Reports/settings.dat': '',
      'home/.config/chromium/Crash Reports/pending/1.dmp': '',
      'home/.pki/nssdb/cert9.db': '',
      'home/.local/share/chromium/x': '',
      'home/chrome_debug.log': 'x',
      'home/core.1234': 'x',
      'home/.config/other-tool/settings.ini': 'kept: not a browser profile',
    };
    for (const [path, content] of Object.entries(files)) {
      const full = join(sandbox.root, path);
      await mkdir(join(full, '..'), { recursive: true });
      await writeFile(full, content);
    }
  }

  function listTree(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string, prefix: string) => {
      for (const entry of readdirSync(d, { withFileTypes: true })) {
        out.push(`${prefix}${entry.name}`);
        if (entry.isDirectory()) walk(join(d, entry.name), `${prefix}${entry.name}/`);
      }
    };
    if (existsSync(dir)) walk(dir, '');
    return out.sort();
  }

  it('full cleanup: ends the browser tree, removes temp files, caches, logs and workdir extras, then validates', async () => {
    const serverPid = await sandbox.startServer('"$BIN/chromium" 300 & sh -c \'"$BIN/chromium" 301 & wait\' & exec sleep 600');
    const browser = childrenOf(serverPid);
    expect(browser.length).toBe(2);
    await leaveBrowserDebris();
    await writeFile(join(sandbox.work, 'keep-me'), 'image content');

    const service = new CleanupService({ runtime: sandbox, stageTimeoutMs: 5_000, killGraceMs: 300, sessionDrainMs: 200, workdirKeep: ['keep-me'] });
    const result = await service.cleanup('c1', 'full');

    expect(result.stages.map((s) => [s.stage, s.success, s.error])).toEqual([
      ['terminateBrowserProcesses', true, undefined],
      ['clearTemporaryFiles', true, undefined],
      ['clearCaches', true, undefined],
      ['clearLogs', true, undefined],
      ['resetEnvironment', true, undefined],
      ['validateCleanup', true, undefined],
    ]);
    expect(result.success).toBe(true);
    expect(sandbox.execs).toBe(6);
    for (const pid of browser) expect(alive(pid)).toBe(false);
    expect(alive(serverPid)).toBe(true); // the server itself is never touched
    expect(listTree(sandbox.tmp)).toEqual([]);
    expect(listTree(sandbox.work)).toEqual(['keep-me']);
    // The whole home goes: a holder's own files in "~" (here another tool's settings) must not reach the next holder.
    expect(listTree(sandbox.home)).toEqual([]);
    for (const stage of result.stages) expect(stage.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('SIGKILLs a browser process that ignores SIGTERM after the grace, and reports each signal', async () => {
    const serverPid = await sandbox.startServer('sh -c \'trap "" TERM; "$BIN/chromium" 302 & wait\' & exec sleep 600');
    const stubborn = childrenOf(serverPid);
    const service = new CleanupService({ runtime: sandbox, killGraceMs: 200, sessionDrainMs: 0 });
    const started = performance.now();
    const result = await service.cleanup('c1', 'minimal');
    expect(result.stages.map((s) => s.stage)).toEqual(['terminateBrowserProcesses', 'clearTemporaryFiles', 'validateCleanup']);
    expect(result.success).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    for (const pid of stubborn) expect(alive(pid)).toBe(false);
  });

  it('kills re-parented helpers only when their command line names this sandbox; never other processes', async () => {
    await sandbox.startServer('exec sleep 600');
    const crashpad = join(sandbox.bin, 'chrome_crashpad_handler');
    const ours = sandbox.spawnOutside(crashpad, ['-c', 'sleep 300; :', 'x', `--database=${sandbox.home}/.config/chromium/Crash Reports`]);
    // Another pool's helper, whose sandbox path merely starts with ours, and an unrelated process.
    const theirs = sandbox.spawnOutside(crashpad, ['-c', 'sleep 300; :', 'x', `--database=${sandbox.home}2/.config/chromium/Crash Reports`]);
    const unrelated = sandbox.spawnOutside('sleep', ['300']);
    await new Promise((resolve) => setTimeout(resolve, 100));

    const service = new CleanupService({ runtime: sandbox, killGraceMs: 200, sessionDrainMs: 0 });
    const result = await service.cleanup('c1', 'minimal');
    expect(result.success).toBe(true);
    expect(alive(ours.pid)).toBe(false);
    expect(alive(theirs.pid)).toBe(true);
    expect(alive(unrelated.pid)).toBe(true);
  });

  /**
   * What `sh -c 'sleep N &'` from browser_run_code_unsafe leaves: a sleep whose parent exited, re-parented to
   * init (or a subreaper), with `marker` as its sandbox marker (none when undefined). Returns the sleep's pid.
   */
  async function doubleForked(seconds: number, marker: string | undefined): Promise<number> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env[SANDBOX_MARKER_ENV];
    if (marker !== undefined) env[SANDBOX_MARKER_ENV] = marker;
    const pidFile = join(sandbox.root, `orphan-${seconds}.pid`);
    const parent = sandbox.spawnOutside('sh', ['-c', 'sleep "$1" >/dev/null 2>&1 & echo $! > "$2"', 'x', String(seconds), pidFile], env);
    await new Promise((resolve) => (parent.exitCode === null ? parent.once('exit', resolve) : resolve(undefined)));
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    // The point of the scenario: the sleep is no child of anything the scripts know.
    expect(parentOf(pid)).not.toBe(process.pid);
    expect(alive(pid)).toBe(true);
    return pid;
  }

  it("kills and reports a double-forked process carrying this sandbox's marker; another sandbox's and unmarked ones survive", async () => {
    await sandbox.startServer('exec sleep 600');
    const ours = await doubleForked(86_402, sandbox.root);
    // A sandbox whose marker merely starts with ours (container-1 / container-10), and a process with none.
    const theirs = await doubleForked(86_403, `${sandbox.root}0`);
    const unmarked = await doubleForked(86_404, undefined);

    const before = parseScriptReport((await sandbox.exec('c1', validateArgv(undefined))).stdout);
    expect(before.processes).toEqual([`${ours} sleep`]);

    const terminate = await sandbox.exec('c1', terminateBrowserArgv(200));
    expect(terminate.exitCode).toBe(0);
    expect(parseScriptReport(terminate.stdout).signals).toEqual([`TERM ${ours} sleep`]);
    expect(alive(ours)).toBe(false);
    expect(alive(theirs)).toBe(true);
    expect(alive(unmarked)).toBe(true);
    expect(alive(sandbox.server?.pid)).toBe(true);

    const service = new CleanupService({ runtime: sandbox, killGraceMs: 200, sessionDrainMs: 0 });
    expect((await service.cleanup('c1', 'minimal')).success).toBe(true);
    expect(alive(theirs)).toBe(true);
    expect(alive(unmarked)).toBe(true);
  });

  it('never signals its own exec chain or another exec running next to it, though both carry the marker', async () => {
    await sandbox.startServer('exec sleep 600');
    const ours = await doubleForked(86_405, sandbox.root);
    // Another exec of the same sandbox (a health probe, a second script), running while the cleanup does.
    const neighbour = sandbox.exec('c1', ['sh', '-c', 'sleep 1; echo neighbour done']);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Marked ancestors, as in Docker (timeout, then mcp-exec's shell), plus a shell that outlives the script.
    const [sh, ...rest] = terminateBrowserArgv(200);
    const chain = await sandbox.exec('c1', ['timeout', '20', 'sh', '-c', '"$@"; echo "after $?"', 'wrapper', sh!, ...rest]);
    expect(chain.stdout).toContain('after 0');
    expect(chain.exitCode).toBe(0);
    expect(parseScriptReport(chain.stdout).signals).toEqual([`TERM ${ours} sleep`]);
    expect(await neighbour).toMatchObject({ exitCode: 0, stdout: 'neighbour done\n' });
  });

  it('ignores zombies: an exited child its parent never reaped holds nothing', async () => {
    const serverPid = await sandbox.startServer('"$BIN/chromium" 0 & exec sleep 600');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const service = new CleanupService({ runtime: sandbox, sessionDrainMs: 0 });
    const result = await service.cleanup('c1', 'minimal');
    expect(result.success).toBe(true);
    expect(alive(serverPid)).toBe(true);
  });

  it('validateCleanup names the browser process, the temp file and the open connection that remain', async () => {
    await sandbox.startServer('"$BIN/chromium" 303 & exec sleep 600');
    await writeFile(join(sandbox.tmp, 'left-behind.tmp'), 'x');
    const service = new CleanupService({ runtime: sandbox, sessionDrainMs: 100 });
    // Run only the validation: a minimal cleanup would remove what we want it to see.
    const validate = (service as unknown as { validate(id: string): Promise<{ ok: boolean; error?: string }> }).validate.bind(service);
    const first = await validate('c1');
    expect(first.ok).toBe(false);
    expect(first.error).toMatch(/^Cleanup of container c1 failed at stage validateCleanup: browser process\(es\) of the MCP server running: \d+ chromium; temporary files remain: .*left-behind\.tmp\. Fix: /);

    await service.cleanup('c1', 'minimal');
    const client = await sandbox.connectClient();
    try {
      const started = performance.now();
      const second = await validate('c1');
      expect(performance.now() - started).toBeGreaterThanOrEqual(100); // it waited for the connection to close
      expect(second.ok).toBe(false);
      expect(second.error).toContain(`1 connection(s) to the MCP port still open (an MCP client holds its session) from 127.0.0.1:${client.localPort}`);
      expect(second.error).toContain('terminateSession()');
    } finally {
      client.destroy();
    }
  });

  it('validateCleanup waits for a connection that closes within the drain time', async () => {
    await sandbox.startServer('exec sleep 600');
    const client = await sandbox.connectClient();
    // Closed well after the stages before validateCleanup are done, even on a loaded 2-core machine (at 150 ms
    // they sometimes were not, and the validation found the connection already gone).
    setTimeout(() => client.destroy(), 600);
    const service = new CleanupService({ runtime: sandbox, sessionDrainMs: 2_000 });
    const result = await service.cleanup('c1', 'minimal');
    expect(result.success).toBe(true);
    expect(result.stages.at(-1)!.durationMs).toBeGreaterThanOrEqual(100);
  });

  it('refuses to clean a root, relative or missing directory, and says which variable is wrong', async () => {
    await sandbox.startServer('exec sleep 600');
    const service = new CleanupService({ runtime: sandbox, sessionDrainMs: 0 });
    for (const [name, value, expected] of [
      ['MCP_TMPDIR', '/', "MCP_TMPDIR is '/'; refusing to clean the root directory"],
      ['MCP_TMPDIR', '///', "MCP_TMPDIR is '/'; refusing to clean the root directory"],
      ['MCP_TMPDIR', 'tmp', "MCP_TMPDIR is 'tmp', not an absolute path"],
      ['MCP_HOME', `${sandbox.root}/../x`, 'has . or .. components'],
      ['MCP_WORKDIR', `${sandbox.root}/missing`, 'is not a directory'],
    ] as const) {
      sandbox.env = { [name]: value };
      const result = await service.cleanup('c1', 'full');
      expect(result.success, `${name}=${value}`).toBe(false);
      expect(result.stages.filter((s) => !s.success).map((s) => s.error).join('\n')).toContain(expected);
    }
    sandbox.env = {};
    expect(existsSync(sandbox.root)).toBe(true);
  });

  it('fails terminateBrowserProcesses and validateCleanup plainly when MCP_SERVER_PID is empty', async () => {
    const service = new CleanupService({ runtime: sandbox, sessionDrainMs: 0 });
    const result = await service.cleanup('c1', 'minimal');
    expect(result.success).toBe(false);
    const terminate = result.stages.find((s) => s.stage === 'terminateBrowserProcesses')!;
    expect(terminate.error).toContain('MCP_SERVER_PID is empty: the MCP server is not running');
    expect(result.stages.find((s) => s.stage === 'clearTemporaryFiles')!.success).toBe(true);
    expect(result.stages.at(-1)!.success).toBe(false);
  });

  it('fails terminateBrowserProcesses plainly when MCP_SANDBOX is empty rather than miss re-parented processes', async () => {
    await sandbox.startServer('exec sleep 600');
    sandbox.env = { MCP_SANDBOX: '' };
    const service = new CleanupService({ runtime: sandbox, sessionDrainMs: 0 });
    const result = await service.cleanup('c1', 'minimal');
    expect(result.success).toBe(false);
    expect(result.stages.find((s) => s.stage === 'terminateBrowserProcesses')!.error).toContain('MCP_SANDBOX is empty');
  });

  describe('resets', () => {
    it('medium: SIGKILL ends a browser that ignores SIGTERM, and empties the temporary folder and the MCP output', async () => {
      const serverPid = await sandbox.startServer('sh -c \'trap "" TERM; "$BIN/chromium" 305 & wait\' & exec sleep 600');
      const [top] = childrenOf(serverPid);
      await leaveBrowserDebris();
      const resetter = new ContainerResetManager({ runtime: sandbox, health: readyGate, portOf: () => sandbox.port, credentialFor: () => 'unused' });
      const result = await resetter.reset('c1', 'medium');
      expect(result).toMatchObject({ success: true, requested: 'medium', applied: 'medium' });
      expect(result.attempts).toHaveLength(1);
      expect(alive(top)).toBe(false);
      expect(alive(serverPid)).toBe(true);
      expect(listTree(sandbox.tmp)).toEqual([]);
      expect(listTree(sandbox.work)).not.toContain('.playwright-mcp');
    });

    it('medium fails its verification when nothing listens on MCP_PORT any more, and hard takes over', async () => {
      await sandbox.startServer('exec sleep 600');
      sandbox.env = { MCP_PORT: '1' };
      const resetter = new ContainerResetManager({ runtime: sandbox, health: readyGate, portOf: () => sandbox.port, credentialFor: () => 'unused' });
      const result = await resetter.reset('c1', 'medium');
      expect(result.attempts[0]).toMatchObject({ strategy: 'medium', success: false });
      expect(result.attempts[0]!.error).toContain('the MCP server does not answer: nothing listens on port 1');
      // Hard (a restart of the fake) then succeeds.
      expect(result).toMatchObject({ success: true, applied: 'hard' });
    });
  });
});
