import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** Computing the tag hashes a few files and asks the daemon which images exist; seconds mean something is wrong. */
const PRINT_TAG_TIMEOUT_MS = 15_000;
/** @defaultValue 20 minutes: a first build may pull the official Playwright image (≈1.5 GB) or debootstrap a base. */
export const IMAGE_BUILD_TIMEOUT_MS = 20 * 60_000;

/**
 * The pool image tag, asked from docker/build-image.sh itself: the tag hashes everything that goes into the
 * image, and only the script knows that list. Re-implementing the hash here would drift from it.
 */
export function poolImageTag(root: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return printTag(join(root, 'docker', 'build-image.sh'), env);
}

/** The offline base image tag (docker/build-base.sh), used when no registry serves the official image. */
export function baseImageTag(root: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return printTag(join(root, 'docker', 'build-base.sh'), env);
}

export interface ImageBuildOptions {
  env?: NodeJS.ProcessEnv;
  /** Rebuild even when the tag exists. @defaultValue false */
  force?: boolean;
  /** Where the build's progress lines go as they come. @defaultValue process.stderr */
  progress?: NodeJS.WritableStream;
}

export interface ImageBuildResult {
  /** The tag the script built (or found), which is the one to run. */
  tag: string;
  durationMs: number;
}

/**
 * Builds the pool image with docker/build-image.sh (idempotent: skipped when the tag exists), streaming its
 * progress. Fails with the last lines of the script's output.
 */
export function buildPoolImage(root: string, options: ImageBuildOptions = {}): Promise<ImageBuildResult> {
  const script = join(root, 'docker', 'build-image.sh');
  const progress = options.progress ?? process.stderr;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...(options.force ? ['--force'] : [])], {
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: IMAGE_BUILD_TIMEOUT_MS,
    });
    let stdout = '';
    let tail = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      progress.write(chunk);
      tail = (tail + chunk).split('\n').slice(-8).join('\n');
    });
    child.once('error', (error) => reject(new Error(`cannot run bash ${script}: ${error.message}`)));
    child.once('close', (code, signal) => {
      const tag = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && tag) return resolve({ tag, durationMs: performance.now() - started });
      const why = signal ? `killed by ${signal} (over ${IMAGE_BUILD_TIMEOUT_MS / 60_000} min?)` : `exit code ${code}`;
      reject(new Error(`bash ${script} failed (${why}):\n${tail.trim()}`));
    });
  });
}

async function printTag(script: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run('bash', [script, '--print-tag'], { env, timeout: PRINT_TAG_TIMEOUT_MS });
    const tag = stdout.trim().split('\n').pop() ?? '';
    if (!tag) throw new Error('printed no tag');
    return tag;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    const reason = e.stderr?.trim().split('\n').pop() || e.message;
    throw new Error(`bash ${script} --print-tag failed: ${reason}`);
  }
}
