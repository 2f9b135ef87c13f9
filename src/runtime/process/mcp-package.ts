import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PoolError } from '../../errors/pool-error.js';

export interface McpPackage {
  /** Folder of the installed `@playwright/mcp`. */
  dir: string;
  /** Its command-line entry, `cli.js`. */
  cliPath: string;
  version: string;
  /** A `require` rooted in the package, so its own playwright-core is the one found. */
  require: NodeJS.Require;
}

/**
 * Finds the installed `@playwright/mcp`. The package exports only `.` and `./package.json`, so the CLI is
 * located next to the resolved package.json rather than imported.
 */
export function resolveMcpPackage(from: string = import.meta.url): McpPackage {
  let packageJsonPath: string;
  try {
    packageJsonPath = createRequire(from).resolve('@playwright/mcp/package.json');
  } catch (error) {
    throw new PoolError(
      'RUNTIME_ERROR',
      'Process runtime: cannot find the @playwright/mcp package. It is a dependency of @cinnamon-qa/containers; ' +
        'reinstall with `npm install`, or use runtime: \'docker\'.',
      { operation: 'resolve-mcp' },
      { cause: error },
    );
  }
  const dir = dirname(packageJsonPath);
  const cliPath = join(dir, 'cli.js');
  if (!existsSync(cliPath)) {
    throw new PoolError('RUNTIME_ERROR', `Process runtime: ${cliPath} is missing; reinstall @playwright/mcp (\`npm install\`).`, {
      operation: 'resolve-mcp',
      cliPath,
    });
  }
  const { version } = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as { version: string };
  return { dir, cliPath, version, require: createRequire(packageJsonPath) };
}
