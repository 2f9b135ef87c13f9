import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** Computing the tag hashes a few files; seconds mean something is wrong. */
const PRINT_TAG_TIMEOUT_MS = 15_000;

/**
 * The pool image tag, asked from docker/build-image.sh itself: the tag hashes everything that goes into the
 * image, and only the script knows that list. Re-implementing the hash here would drift from it.
 */
export function poolImageTag(root: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return printTag(join(root, 'docker', 'build-image.sh'), env);
}

/** The offline base image tag (docker/build-base.sh), used when BASE_IMAGE is unset. */
export function baseImageTag(root: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return printTag(join(root, 'docker', 'build-base.sh'), env);
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
