import { execFile } from 'node:child_process';

/** What a finished command printed; `code` is null when it died by a signal. */
export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion without a shell; never throws for a non-zero exit (the caller decides). */
export function runCommand(file: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : error.code === undefined ? null : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (error && typeof error.code !== 'number' ? error.message : '') });
    });
  });
}

/** Runs a command and throws, naming the command and its stderr, when it fails. */
export async function mustRun(file: string, args: readonly string[]): Promise<string> {
  const result = await runCommand(file, args);
  if (result.code !== 0) {
    throw new Error(`\`${file} ${args.join(' ')}\` failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}
