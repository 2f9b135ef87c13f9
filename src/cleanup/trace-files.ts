import { PoolError } from '../errors/pool-error.js';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { lazyShellScripts, shellArgv } from '../health/shell-script-loader.js';
import { CLEANUP_SHELL_DIR, MCP_OUTPUT_DIR } from './sandbox-scripts.js';

/**
 * Where @playwright/mcp's `browser_stop_tracing` leaves a trace, under its output dir: `<name>.trace`,
 * `<name>.network`, and the `resources/` and `screencast/` files the trace names. These are temporary files
 * of the container: cleanup stage 2 (clearTemporaryFiles) removes the whole output dir between holders.
 */
export const TRACE_DIR = `${MCP_OUTPUT_DIR}/traces`;

/** What `browser_start_tracing` names a trace (`trace-<ms since epoch>`). */
export const TRACE_NAME = /^trace-\d{1,16}$/;

/** A file the trace may name: one path segment below resources/ or screencast/, no dot-dot. */
const TRACE_RESOURCE = /^(?:resources|screencast)\/[\w@.-]{1,200}$/;

/**
 * Bytes read per exec: the runtimes keep 1 MiB of an exec's stdout, and base64 grows data by a third.
 * @defaultValue 720 KiB
 */
const READ_CHUNK_BYTES = 720 * 1024;

/** Most bytes one trace may bring back: a trace of a long test with many screencast frames stays below. */
const MAX_TRACE_BYTES = 64 * 1024 * 1024;

type TraceScript = 'trace-list' | 'trace-read';

export interface TraceFile {
  /** Path relative to the trace folder (`trace-1.trace`, `resources/<sha1>`). */
  name: string;
  data: Buffer;
}

/** Lists the trace folder, and reads byte ranges of its files (sh/trace-list.sh, sh/trace-read.sh). */
const traceScript = lazyShellScripts(CLEANUP_SHELL_DIR, ['trace-list', 'trace-read'] as const, { CQ_TRACE_DIR: TRACE_DIR });

/**
 * Reads one trace's files out of a container through `runtime.exec` (Docker: docker exec; process runtime: a
 * command in the sandbox), in batches that fit an exec's output, within `budgetMs`.
 */
export async function readTraceFiles(runtime: ContainerRuntime, containerId: string, traceName: string, budgetMs: number): Promise<TraceFile[]> {
  if (!TRACE_NAME.test(traceName)) {
    throw new PoolError('INVALID_ARGUMENT', `Trace name ${JSON.stringify(traceName)} is not one @playwright/mcp gives (trace-<digits>).`, { traceName });
  }
  const deadline = performance.now() + budgetMs;
  const exec = async (script: TraceScript, args: string[]) => {
    const left = Math.floor(deadline - performance.now());
    if (left <= 0) throw new PoolError('RUNTIME_ERROR', `Reading trace ${traceName} from container ${containerId} used up its ${budgetMs} ms budget.`, { containerId, traceName });
    const result = await runtime.exec(containerId, shellArgv(traceScript(script), args), { timeoutMs: left });
    if (result.exitCode !== 0) {
      throw new PoolError('RUNTIME_ERROR', `Reading trace ${traceName} from container ${containerId} failed (exit ${result.exitCode}): ${result.stderr.trim().slice(0, 300)}`, {
        containerId,
        traceName,
      });
    }
    return result.stdout;
  };

  const sizes = new Map<string, number>();
  for (const line of (await exec('trace-list', [])).split('\n')) {
    const match = /^(\d+) (.+)$/.exec(line);
    if (match) sizes.set(match[2]!, Number(match[1]));
  }
  const main = [`${traceName}.trace`, `${traceName}.network`].filter((name) => sizes.has(name));
  if (!main.includes(`${traceName}.trace`)) {
    throw new PoolError('RUNTIME_ERROR', `Container ${containerId} has no trace ${traceName} in ${TRACE_DIR} (stopped tracing? cleaned?).`, { containerId, traceName });
  }
  const files = await readFiles(exec, main, sizes);
  // Only what this trace names: the folder is shared by every session of the server.
  const named = new Set<string>();
  for (const file of files) {
    for (const match of file.data.toString('utf8').matchAll(/"((?:resources|screencast)\/[^"\\]+)"/g)) {
      if (TRACE_RESOURCE.test(match[1]!) && sizes.has(match[1]!)) named.add(match[1]!);
    }
  }
  return [...files, ...(await readFiles(exec, [...named], sizes))];
}

async function readFiles(exec: (script: TraceScript, args: string[]) => Promise<string>, names: string[], sizes: Map<string, number>): Promise<TraceFile[]> {
  const total = names.reduce((sum, name) => sum + (sizes.get(name) ?? 0), 0);
  if (total > MAX_TRACE_BYTES) throw new PoolError('RUNTIME_ERROR', `The trace is ${total} bytes, more than the ${MAX_TRACE_BYTES} bytes a test may attach.`, { total });
  const out: TraceFile[] = [];
  let batch: string[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (!batch.length) return;
    out.push(...parseRead(await exec('trace-read', ['0', String(READ_CHUNK_BYTES), ...batch])));
    batch = [];
    batchBytes = 0;
  };
  for (const name of names) {
    const size = sizes.get(name) ?? 0;
    if (size > READ_CHUNK_BYTES) {
      // A big file alone, in aligned chunks (dd skips whole 4 KiB blocks).
      const parts: Buffer[] = [];
      for (let offset = 0; offset < size; offset += READ_CHUNK_BYTES) parts.push(...parseRead(await exec('trace-read', [String(offset), String(READ_CHUNK_BYTES), name])).map((f) => f.data));
      out.push({ name, data: Buffer.concat(parts) });
      continue;
    }
    if (batchBytes + size > READ_CHUNK_BYTES) await flush();
    batch.push(name);
    batchBytes += size;
  }
  await flush();
  return out;
}

function parseRead(stdout: string): TraceFile[] {
  const files: TraceFile[] = [];
  const lines = stdout.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const header = /^FILE (.+)$/.exec(lines[i]!);
    if (!header) break;
    files.push({ name: header[1]!, data: Buffer.from(lines[i + 1]!, 'base64') });
  }
  return files;
}
