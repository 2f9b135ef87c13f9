import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { PoolError } from '../../errors/pool-error.js';
import { resolveMcpPackage } from './mcp-package.js';

/** System browser commands tried on PATH, in order. */
export const SYSTEM_CHROMIUM_COMMANDS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'] as const;

export interface ChromiumLocation {
  executablePath: string;
  /** Where it was found: the caller's option, Playwright's own download, or the system PATH. */
  source: 'option' | 'playwright' | 'path';
}

export interface LocateChromiumOptions {
  /** Use this browser; fails when it is not an executable file. */
  executablePath?: string;
  /** PATH is read from here. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /**
   * Where Playwright's downloaded Chromium would be (the file may not exist).
   * @defaultValue playwright-core's registry, as seen by the installed @playwright/mcp
   */
  playwrightExecutablePath?: () => string | undefined;
  /** @defaultValue a regular file the current user may execute */
  isExecutable?: (path: string) => boolean;
}

/**
 * Finds a Chromium for the MCP servers: Playwright's downloaded browser when present (the build Playwright is
 * tested with), else the system's on PATH, else a PoolError saying how to install one.
 */
export function locateChromium(options: LocateChromiumOptions = {}): ChromiumLocation {
  const isExecutable = options.isExecutable ?? isExecutableFile;
  if (options.executablePath !== undefined) {
    if (isExecutable(options.executablePath)) return { executablePath: options.executablePath, source: 'option' };
    throw new PoolError(
      'RUNTIME_ERROR',
      `Process runtime: the configured Chromium ${options.executablePath} is not an executable file. ` +
        'Fix the path, or leave it unset to use Playwright\'s or the system\'s Chromium.',
      { operation: 'locate-chromium', executablePath: options.executablePath },
    );
  }

  const playwrightPath = safely(options.playwrightExecutablePath ?? playwrightRegistryPath);
  if (playwrightPath && isExecutable(playwrightPath)) return { executablePath: playwrightPath, source: 'playwright' };

  const pathEnv = (options.env ?? process.env).PATH ?? '';
  const dirs = pathEnv.split(delimiter).filter((d) => d.length > 0);
  for (const command of SYSTEM_CHROMIUM_COMMANDS) {
    for (const dir of dirs) {
      const candidate = join(dir, command);
      if (isExecutable(candidate)) return { executablePath: candidate, source: 'path' };
    }
  }

  throw new PoolError(
    'RUNTIME_ERROR',
    'Process runtime: no Chromium found. Looked for Playwright\'s browser' +
      (playwrightPath ? ` (${playwrightPath})` : '') +
      ` and for ${SYSTEM_CHROMIUM_COMMANDS.join(', ')} on PATH. Install one: \`apt-get install chromium\` ` +
      '(Debian/Ubuntu) or `npx playwright install chromium`; or use runtime: \'docker\'.',
    { operation: 'locate-chromium', playwrightPath, searched: [...SYSTEM_CHROMIUM_COMMANDS] },
  );
}

function playwrightRegistryPath(): string | undefined {
  // Ask the playwright-core that @playwright/mcp itself loads, so the path matches the browser build it expects.
  const core = resolveMcpPackage().require('playwright-core') as { chromium: { executablePath(): string } };
  return core.chromium.executablePath();
}

function safely(find: () => string | undefined): string | undefined {
  try {
    return find();
  } catch {
    // No Playwright registry (or a broken install) just means: look on PATH.
    return undefined;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
