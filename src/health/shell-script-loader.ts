import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PoolError } from '../errors/pool-error.js';
import { SANDBOX_MARKER_ENV } from '../runtime/container-runtime.js';

/**
 * Loads the POSIX `sh` scripts that run in a container or process sandbox through `ContainerRuntime.exec`
 * (`sh -c <script> cq <args...>`): health probes (src/health/sh) and cleanup and resets (src/cleanup/sh). They
 * are real `.sh` files, checked by shellcheck in `npm run lint`, read from disk next to the module as the Redis
 * store's Lua scripts are; the build copies them to dist (tsc does not).
 *
 * Since exec runs one string, an include is spliced in at load time, like the Lua includes: a line
 * `. "$CQ_INCLUDES/<name>.sh"` (a `.` command shellcheck follows through its `# shellcheck source=` comment) is
 * replaced by `includes/<name>.sh` from the script's own folder, or else from the shared folder here. Includes do
 * not include. Constants the TypeScript side owns (the sandbox-marker variable's name, folder names) come first,
 * as `CQ_*='value'` lines, so a script never has them spliced into its code.
 *
 * This lives in the health layer because it is the lowest one both health probes and cleanup may import.
 */

/** `src/health/sh` when running from source, `dist/src/health/sh` from the build: the shared includes. */
export const SHARED_SHELL_DIR = fileURLToPath(new URL('./sh/', import.meta.url));

const INCLUDE_LINE = /^\. "\$CQ_INCLUDES\/([a-z][a-z-]*)\.sh"[ \t]*$/gm;
const CONSTANT_NAME = /^CQ_[A-Z][A-Z_]*$/;

/** Every script gets the name of the variable that marks a sandbox's processes. */
const BASE_CONSTANTS: Readonly<Record<string, string>> = { CQ_MARKER_ENV: SANDBOX_MARKER_ENV };

/** argv of one script run: `sh -c <script> cq <args...>`; arguments stay data (never spliced into code). */
export function shellArgv(script: string, args: readonly string[] = []): string[] {
  return ['sh', '-c', script, 'cq', ...args];
}

/**
 * Reads `<dir>/<name>.sh` for each name, with includes expanded and `constants` (names `CQ_*`) set first.
 * Fails with an actionable error when a file is missing (an install without the build's copy step).
 */
export function loadShellScripts<N extends string>(dir: string, names: readonly N[], constants: Readonly<Record<string, string>> = {}): Record<N, string> {
  const preamble = Object.entries({ ...BASE_CONSTANTS, ...constants })
    .map(([name, value]) => `${constantName(name)}=${quote(value)}\n`)
    .join('');
  const scripts = {} as Record<N, string>;
  for (const name of names) {
    const file = join(dir, `${name}.sh`);
    scripts[name] = `${preamble}${expandIncludes(readScript(file), dir, file).trim()}\n`;
  }
  return scripts;
}

/**
 * {@link loadShellScripts} on first use, then the same texts: a module's scripts are read once, and a missing
 * file fails the first caller (a constructor that builds its scripts up front) instead of the module import.
 */
export function lazyShellScripts<N extends string>(dir: string, names: readonly N[], constants?: Readonly<Record<string, string>>): (name: N) => string {
  let loaded: Record<N, string> | undefined;
  return (name) => {
    loaded ??= loadShellScripts(dir, names, constants);
    return loaded[name];
  };
}

function expandIncludes(source: string, dir: string, file: string): string {
  return source.replace(INCLUDE_LINE, (_line, include: string) => {
    const candidates = [join(dir, 'includes', `${include}.sh`), join(SHARED_SHELL_DIR, 'includes', `${include}.sh`)];
    const path = candidates.find((candidate) => existsSync(candidate));
    if (!path) {
      throw missing(`${file} includes ${include}, but neither ${candidates.join(' nor ')} exists`, { file, include });
    }
    return readScript(path).trimEnd();
  });
}

function readScript(path: string): string {
  if (!existsSync(path)) throw missing(`${path} is missing`, { path });
  return readFileSync(path, 'utf8');
}

function missing(what: string, data: Record<string, unknown>): PoolError {
  return new PoolError(
    'RUNTIME_ERROR',
    `A sandbox shell script cannot be loaded: ${what}. The build must copy src/health/sh and src/cleanup/sh (with ` +
      'includes/) to dist/src/health/sh and dist/src/cleanup/sh (npm run build does); reinstall the package if it came from npm.',
    data,
  );
}

function constantName(name: string): string {
  if (!CONSTANT_NAME.test(name)) throw new RangeError(`sandbox script constant ${JSON.stringify(name)} must be named CQ_<UPPER_CASE>`);
  return name;
}

/** Single-quoted for sh: nothing inside is expanded. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
