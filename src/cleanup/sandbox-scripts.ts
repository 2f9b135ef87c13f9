/**
 * The POSIX `sh` scripts that cleanup and resets run inside a container (Docker) or next to a process sandbox
 * (process runtime) through `ContainerRuntime.exec`: the files in src/cleanup/sh (each says what it does),
 * loaded by src/health/shell-script-loader.ts. They rely only on the exec environment contract
 * (src/runtime/container-runtime.ts): a POSIX `sh`, `ps` (procps), `find`, `grep` (with -z), /proc, the
 * variables MCP_HOME, MCP_TMPDIR, MCP_WORKDIR, MCP_SERVER_PID, MCP_PORT, MCP_SANDBOX, plus coreutils every base
 * image has (`rm`, `cat`, `sleep` with fractions of a second). That is what lets one implementation serve both
 * runtimes.
 *
 * Two facts shape them:
 * - In the process runtime exec runs ON THE HOST, next to other pools' servers and browsers. So a process is
 *   the holder's only when it descends from MCP_SERVER_PID, carries this sandbox's exact marker, or names this
 *   member's own folders on its command line (sh/includes/browser.sh). Never `pkill`. And every directory is
 *   checked before anything under it is removed.
 * - Scripts talk back in lines `KEYWORD value...` on stdout (see script-report.ts); exit code 0 means done, 1
 *   means the job could not be completed (the lines say why), 2 means a broken precondition.
 *
 * This module builds each script's argv. The values that become arguments are checked once, when the options
 * they come from are parsed (cleanup-service-options.ts, container-reset-options.ts): whole non-negative ms,
 * plain file names.
 */

import { fileURLToPath } from 'node:url';
import { lazyShellScripts, shellArgv } from '../health/shell-script-loader.js';

/** Where @playwright/mcp writes snapshots, console logs and screenshots, under its working directory. */
export const MCP_OUTPUT_DIR = '.playwright-mcp';

/** How many leftover files a validation names per folder before it summarises the rest. */
const LISTED_FILES = 10;

/** `src/cleanup/sh` from source, `dist/src/cleanup/sh` from the build. */
export const CLEANUP_SHELL_DIR = fileURLToPath(new URL('./sh/', import.meta.url));

const SCRIPT_NAMES = [
  'terminate-browser',
  'clear-temporary-files',
  'clear-caches',
  'clear-logs',
  'reset-environment',
  'validate-cleanup',
  'medium-reset',
] as const;

const cleanupScript = lazyShellScripts(CLEANUP_SHELL_DIR, SCRIPT_NAMES, { CQ_OUTPUT_DIR: MCP_OUTPUT_DIR, CQ_LISTED_FILES: String(LISTED_FILES) });

/** Stage terminateBrowserProcesses: SIGTERM every browser process, SIGKILL what outlives `graceMs`. */
export function terminateBrowserArgv(graceMs: number): string[] {
  return shellArgv(cleanupScript('terminate-browser'), [String(graceMs)]);
}

/** Stage clearTemporaryFiles: everything in MCP_TMPDIR (both runtimes start it empty) and the MCP output dir. */
export function clearTemporaryFilesArgv(): string[] {
  return shellArgv(cleanupScript('clear-temporary-files'));
}

/** Stage clearCaches: everything under MCP_HOME (sh/clear-caches.sh says why all of it). */
export function clearCachesArgv(): string[] {
  return shellArgv(cleanupScript('clear-caches'));
}

/** Stage clearLogs: logs, crash dumps and crash-report folders under MCP_HOME and MCP_WORKDIR. */
export function clearLogsArgv(): string[] {
  return shellArgv(cleanupScript('clear-logs'));
}

/**
 * Stage resetEnvironment: MCP_WORKDIR back to its initial state, "empty except the names in `keep`" (both
 * runtimes start it empty).
 */
export function resetEnvironmentArgv(keep: readonly string[]): string[] {
  return shellArgv(cleanupScript('reset-environment'), keep);
}

/**
 * Stage validateCleanup: no browser process of this server, nothing in MCP_TMPDIR or the MCP output dir, and
 * (when `drainMs` is given) no ESTABLISHED connection to MCP_PORT. Idle HTTP keep-alive connections of a
 * client that has already gone look the same as an open MCP stream, so connections get `drainMs` to close —
 * the server itself closes an idle one after Node's 5 s keep-alive timeout; one still open then is a client
 * that holds its session. Without `drainMs` connections are not looked at (an injected session count is used).
 */
export function validateArgv(drainMs: number | undefined): string[] {
  return shellArgv(cleanupScript('validate-cleanup'), [drainMs === undefined ? 'none' : String(drainMs)]);
}

/** Medium reset: SIGKILL every browser process, empty the temporary folders, check the server still answers. */
export function mediumResetArgv(): string[] {
  return shellArgv(cleanupScript('medium-reset'));
}
