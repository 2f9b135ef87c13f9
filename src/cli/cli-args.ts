import { parseArgs } from 'node:util';
import { parsePoolOptions } from '../config/pool-config.js';
import { POOL_TOKEN_ENV, POOL_URL_ENV } from '../protocol/env-names.js';
import { RUNTIME_CHOICES, RUNTIME_ENV_VAR, type RuntimeChoice } from '../runtime/select-runtime.js';
import type { CoordinatorLookup } from './coordinator-file.js';
import type { DoctorOptions } from './doctor-checks.js';
import { MERGE_REPORTS_USAGE, type MergeReportsCommand, parseMergeReports } from './merge-reports-args.js';
import { DEFAULT_ACL_USER, poolKeyPrefix } from '../store/redis-acl.js';
import { AGENT_USAGE, type AgentCommand, parseAgent } from './agent-args.js';
import type { DownCommand } from './down-command.js';

export const USAGE = `Usage: cinnamon-pool <command> [options]

Commands:
  doctor   check what a pool run needs before it starts (exit code 1 on a miss)
    --runtime auto|docker|process   runtime to check for (default: $${RUNTIME_ENV_VAR}, else auto)
    --containers N                  pool size (default 2)
    --base-port PORT                first container port (default 3001)
    --redis URL                     Redis to check (default: $REDIS_URL; unset means the in-memory store)
    --image TAG                     Docker image to look for (default: what docker/build-image.sh --print-tag says)
    --json                          print the checks as JSON
  status   show a running pool: containers and states, leases, queue by priority
    --url URL                       coordinator URL (default: $${POOL_URL_ENV})
    --token TOKEN                   its bearer token (default: $${POOL_TOKEN_ENV})
    --file PATH                     coordinator file of a run (default: .cinnamon-pool/coordinator.json
                                    in this folder or above, written by the run while it runs)
    --json                          print the info and status JSON
    --redis-url URL                 a shared pool instead, read from its Redis: hosts (live, lost, draining,
                                    epoch), members by host, holders, the queue by priority and tenant
    --pool-id ID | --prefix P       which pool (default: $CINNAMON_POOL_ID, else cinnamon-qa)
  acl      print the least-privilege Redis user of a shared pool: one ACL SETUSER line to paste into
           redis-cli as an admin (replace the password); what it grants: docs/multi-host.md
    --pool-id ID | --prefix P       which pool (default: $CINNAMON_POOL_ID, else cinnamon-qa)
    --user NAME                     the Redis user (default ${DEFAULT_ACL_USER})
  image build   build the MCP server image now (skipped when it exists; a run builds a missing one itself)
    --force                         rebuild even when it exists
  image tag     print the tag of the MCP server image a run would use
               (both read BASE_IMAGE: auto | playwright | offline | an image; see docker/README.md)
  down     stop the warm pool(s) a run with reuse: true left running on this machine (exit 0 when none)
    --pool-id ID                    only this pool's (default: every warm pool of this machine)
${MERGE_REPORTS_USAGE}${AGENT_USAGE}  help     this text
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Command =
  | { kind: 'help' }
  | { kind: 'doctor'; options: DoctorOptions; json: boolean }
  | { kind: 'status'; lookup: CoordinatorLookup; json: boolean }
  | { kind: 'shared-status'; redisUrl: string; keyPrefix: string; json: boolean }
  | { kind: 'acl'; keyPrefix: string; user: string }
  | { kind: 'image-build'; force: boolean }
  | { kind: 'image-tag' }
  | MergeReportsCommand
  | AgentCommand
  | DownCommand;

export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help' };
    case 'doctor':
      return parseDoctor(rest, env);
    case 'status':
      return parseStatus(rest, env);
    case 'merge-reports':
      return parseMergeReports(rest, (message) => {
        throw new UsageError(message);
      });
    case 'agent':
      return parseAgent(rest, env, (message) => {
        throw new UsageError(message);
      });
    case 'image':
      return parseImage(rest);
    case 'acl':
      return parseAcl(rest, env);
    case 'down': {
      const { values } = strictParse(rest, { 'pool-id': { type: 'string' } });
      return { kind: 'down', ...(values['pool-id'] === undefined ? {} : { poolId: values['pool-id'] }) };
    }
    default:
      throw new UsageError(`unknown command '${name}'`);
  }
}

function parseDoctor(args: string[], env: NodeJS.ProcessEnv): Command {
  const { values } = strictParse(args, {
    runtime: { type: 'string' },
    containers: { type: 'string' },
    'base-port': { type: 'string' },
    redis: { type: 'string' },
    image: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const fromEnv = env[RUNTIME_ENV_VAR]?.trim();
  const runtime = values.runtime ?? (fromEnv || 'auto');
  if (!(RUNTIME_CHOICES as readonly string[]).includes(runtime)) {
    const where = values.runtime !== undefined ? '--runtime' : RUNTIME_ENV_VAR;
    throw new UsageError(`${where} must be one of ${RUNTIME_CHOICES.join(', ')}, got '${runtime}'`);
  }
  const runtimeSource = values.runtime !== undefined ? '--runtime' : fromEnv ? `${RUNTIME_ENV_VAR}=${fromEnv}` : 'default';

  // The pool's own option parser, so the doctor accepts exactly what the config accepts.
  const pool = parsePoolOptions({
    ...(values.containers !== undefined ? { containers: integer('--containers', values.containers) } : {}),
    ...(values['base-port'] !== undefined ? { basePort: integer('--base-port', values['base-port']) } : {}),
  });
  const redisUrl = values.redis ?? (env.REDIS_URL?.trim() || undefined);
  return {
    kind: 'doctor',
    json: values.json === true,
    options: {
      runtime: runtime as RuntimeChoice,
      runtimeSource,
      ports: pool.containerSpecs.map((s) => s.port),
      redisUrl,
      ...(values.image !== undefined ? { image: values.image } : {}),
    },
  };
}

function parseStatus(args: string[], env: NodeJS.ProcessEnv): Command {
  const { values } = strictParse(args, {
    url: { type: 'string' },
    token: { type: 'string' },
    file: { type: 'string' },
    'redis-url': { type: 'string' },
    'pool-id': { type: 'string' },
    prefix: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (values['redis-url'] !== undefined) {
    return { kind: 'shared-status', redisUrl: values['redis-url'], keyPrefix: poolPrefix(values, env), json: values.json === true };
  }
  // Flags first, then the variables a run's workers see; the coordinator file is looked for later, on disk.
  return {
    kind: 'status',
    json: values.json === true,
    lookup: { url: values.url ?? env[POOL_URL_ENV], token: values.token ?? env[POOL_TOKEN_ENV], file: values.file },
  };
}

function parseAcl(args: string[], env: NodeJS.ProcessEnv): Command {
  const { values } = strictParse(args, { 'pool-id': { type: 'string' }, prefix: { type: 'string' }, user: { type: 'string' } });
  if (values['pool-id'] !== undefined && values.prefix !== undefined) throw new UsageError('acl takes --pool-id or --prefix, not both');
  return { kind: 'acl', keyPrefix: poolPrefix(values, env), user: values.user ?? DEFAULT_ACL_USER };
}

/** `--prefix`, else the key prefix of `--pool-id` (else $CINNAMON_POOL_ID, else cinnamon-qa). */
function poolPrefix(values: { 'pool-id'?: string | undefined; prefix?: string | undefined }, env: NodeJS.ProcessEnv): string {
  return values.prefix ?? poolKeyPrefix(values['pool-id'] ?? env['CINNAMON_POOL_ID'] ?? 'cinnamon-qa');
}

function parseImage(args: string[]): Command {
  const [action, ...rest] = args;
  if (action === 'build') {
    const { values } = strictParse(rest, { force: { type: 'boolean', default: false } });
    return { kind: 'image-build', force: values.force === true };
  }
  if (action === 'tag') {
    strictParse(rest, {});
    return { kind: 'image-tag' };
  }
  throw new UsageError(action === undefined ? "'image' needs an action: build or tag" : `unknown image action '${action}' (expected build or tag)`);
}

type Spec = Record<string, { type: 'string' | 'boolean'; default?: boolean }>;

function strictParse<S extends Spec>(args: string[], options: S) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function integer(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw new UsageError(`${flag} must be a whole number, got '${text}'`);
  return value;
}
