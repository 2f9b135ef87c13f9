import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { readTraceFiles, TRACE_DIR } from './trace-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs the scripts for real with `sh` in a folder standing for MCP_WORKDIR; counts the execs. */
function localRuntime(workdir: string): ContainerRuntime & { execs: number } {
  const runtime = {
    execs: 0,
    exec: async (_id: string, argv: readonly string[]) => {
      runtime.execs++;
      const r = spawnSync(argv[0]!, argv.slice(1), { cwd: workdir, env: { ...process.env, MCP_WORKDIR: workdir }, maxBuffer: 4 * 1024 * 1024 });
      return { exitCode: r.status ?? 1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    },
  };
  return runtime as unknown as ContainerRuntime & { execs: number };
}

function traceFolder(): { workdir: string; traces: string } {
  const workdir = mkdtempSync(join(tmpdir(), 'cqa-trace-'));
  dirs.push(workdir);
  const traces = join(workdir, TRACE_DIR);
  mkdirSync(join(traces, 'resources'), { recursive: true });
  mkdirSync(join(traces, 'screencast'), { recursive: true });
  return { workdir, traces };
}

describe('readTraceFiles', () => {
  it('reads the trace, its network log and only the files the trace names, byte for byte', async () => {
    const { workdir, traces } = traceFolder();
    const frame = randomBytes(5_000);
    const big = randomBytes(1_600_000); // more than one exec's share: read in chunks
    writeFileSync(join(traces, 'trace-1.trace'), '{"type":"screencast-frame","file":"screencast/page@1-2.jpeg"}\n{"type":"x","_file":"resources/abc.dat"}\n');
    writeFileSync(join(traces, 'trace-1.network'), '');
    writeFileSync(join(traces, 'screencast/page@1-2.jpeg'), frame);
    writeFileSync(join(traces, 'resources/abc.dat'), big);
    writeFileSync(join(traces, 'resources/other-session.dat'), 'not ours');
    writeFileSync(join(traces, 'trace-2.trace'), '{}\n');
    const runtime = localRuntime(workdir);

    const files = await readTraceFiles(runtime, 'container-1', 'trace-1', 30_000);
    const byName = new Map(files.map((f) => [f.name, f.data]));
    expect([...byName.keys()].sort()).toEqual(['resources/abc.dat', 'screencast/page@1-2.jpeg', 'trace-1.network', 'trace-1.trace']);
    expect(byName.get('screencast/page@1-2.jpeg')!.equals(frame)).toBe(true);
    expect(byName.get('resources/abc.dat')!.equals(big)).toBe(true);
    expect(byName.get('trace-1.network')!.length).toBe(0);
  });

  it('refuses names that are not a trace name and says when the trace is missing', async () => {
    const { workdir } = traceFolder();
    const runtime = localRuntime(workdir);
    await expect(readTraceFiles(runtime, 'container-1', '../../etc/passwd', 5_000)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(runtime.execs).toBe(0);
    await expect(readTraceFiles(runtime, 'container-1', 'trace-9', 5_000)).rejects.toThrow(/container-1 has no trace trace-9/);
  });

  it('does not follow a name the trace gives outside resources/ or screencast/', async () => {
    const { workdir, traces } = traceFolder();
    writeFileSync(join(workdir, 'secret.txt'), 'secret');
    writeFileSync(join(traces, 'trace-3.trace'), '{"file":"resources/../../../secret.txt"}\n');
    const files = await readTraceFiles(localRuntime(workdir), 'container-1', 'trace-3', 5_000);
    expect(files.map((f) => f.name)).toEqual(['trace-3.trace']);
  });
});
