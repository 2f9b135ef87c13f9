#!/usr/bin/env node
/**
 * `cinnamon-pool`: operate a container pool from a shell.
 *   cinnamon-pool doctor   what a run needs, checked before it starts
 *   cinnamon-pool status   a running pool, from its coordinator
 *   cinnamon-pool image    build the MCP server image (or print its tag)
 *   cinnamon-pool merge-reports   the shards' pool reports merged into one
 *   cinnamon-pool acl      the least-privilege Redis user of a shared pool (an ACL SETUSER line)
 *   cinnamon-pool agent    serve this machine's members to a shared pool (foreground, until SIGTERM/SIGINT)
 *   cinnamon-pool down     stop the warm pool(s) runs with `reuse: true` left running
 * From a checkout, without building: npx tsx src/cli/main.ts doctor
 */
import { PoolClient } from '../protocol/pool-client.js';
import { isPoolError } from '../errors/pool-error.js';
import { formatChecks, hasFailures } from './check-result.js';
import { USAGE, UsageError, parseCommand } from './cli-args.js';
import { findCoordinator } from './coordinator-file.js';
import { runMergeReports } from './merge-reports-command.js';
import { runAgent } from './agent-command.js';
import { stopWarmPools } from './down-command.js';
import { runDoctor } from './doctor-checks.js';
import { packageRoot } from '../runtime/package-root.js';
import { renderStatus } from './status-command.js';
import { renderSharedStatus } from './shared-status-command.js';
import { buildPoolImage, poolImageTag } from '../runtime/docker/pool-image.js';
import { systemProbes } from './system-probes.js';
import { redisAclSetUser } from '../store/redis-acl.js';

/** Exit codes: 0 ready / shown, 1 a check failed or the pool cannot be reached, 2 bad usage. */
async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const command = parseCommand(argv, env);
  switch (command.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case 'doctor': {
      const results = await runDoctor(command.options, systemProbes(packageRoot(), env));
      process.stdout.write(command.json ? `${JSON.stringify(results, null, 2)}\n` : formatChecks(results));
      return hasFailures(results) ? 1 : 0;
    }
    case 'status': {
      const coordinator = findCoordinator(command.lookup, process.cwd());
      const client = new PoolClient({ url: coordinator.url, token: coordinator.token, requestTimeoutMs: 5_000 });
      try {
        process.stdout.write(await renderStatus(client, { json: command.json }));
        return 0;
      } finally {
        client.close();
      }
    }
    case 'shared-status':
      process.stdout.write(await renderSharedStatus(command.redisUrl, command.keyPrefix, command.json));
      return 0;
    case 'acl':
      process.stdout.write(`${redisAclSetUser(command.keyPrefix, command.user)}\n`);
      return 0;
    case 'image-tag':
      process.stdout.write(`${await poolImageTag(packageRoot(), env)}\n`);
      return 0;
    case 'image-build': {
      process.stderr.write('cinnamon-pool: building the MCP server image (progress below; skipped when it exists)\n');
      const { tag, durationMs } = await buildPoolImage(packageRoot(), { env, force: command.force });
      process.stderr.write(`cinnamon-pool: image ${tag} ready in ${(durationMs / 1000).toFixed(1)} s\n`);
      process.stdout.write(`${tag}\n`);
      return 0;
    }
    case 'merge-reports':
      return runMergeReports(command, { stdout: process.stdout, env });
    case 'agent':
      return runAgent(command, { stdout: process.stdout, stderr: process.stderr, env, signals: process });
    case 'down': {
      const result = await stopWarmPools(command.poolId === undefined ? {} : { poolId: command.poolId });
      process.stdout.write(`${result.lines.join('\n')}\n`);
      return result.busy ? 1 : 0;
    }
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`cinnamon-pool: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else if (isPoolError(error, 'INVALID_OPTIONS')) {
      process.stderr.write(`cinnamon-pool: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`cinnamon-pool: ${isPoolError(error) ? `${error.code}: ` : ''}${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
