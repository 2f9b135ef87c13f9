import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';

/**
 * The guard in front of every pool MCP server (Origin/Host rule, then the lease credential). Its one implementation is docker/image/mcp-guard.cjs:
 * the image runs that file with plain node (nothing else of this package is in the image), and the process
 * runtime loads the same file in-process through this module, which only gives it types. In-process rather than
 * a `node mcp-guard.cjs` child per member: no extra process for cleanup to tell from a holder's, none to reap
 * after a crash, no readiness handshake, and the guard closes with the server as before.
 */
export interface McpGuard {
  /** The port clients use (the pool member's port). */
  readonly port: number;
  /** Stops listening and ends every open connection (SSE streams included). Idempotent. */
  close(): Promise<void>;
  /** Lets the process exit while the guard listens (a pool left running by mistake must not keep it alive). */
  unref(): void;
}

export interface McpGuardOptions {
  /** Port the guard listens on, the one clients connect to. */
  port: number;
  /** Port of the MCP server on 127.0.0.1. */
  upstreamPort: number;
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string;
  /**
   * The pool's public key (base64 DER SPKI, Ed25519; MemberCredentials.keyOf): every request must carry a
   * credential signed with its private key. `null` turns the credential check off (Host/Origin only), for
   * measuring what the check costs; never in a pool.
   */
  key: string | null;
  /** The pool member's id (`container-1`): credentials name the member they are for. Required with a key. */
  member?: string;
  /**
   * Extra Host values admitted besides `localhost:<port>` and `127.0.0.1:<port>` (and Origin `http://` + each),
   * exact `host:port` values such as `10.231.0.2:3001`: a shared pool's member reached from other machines.
   * @defaultValue none
   */
  allowedHosts?: readonly string[];
}

/** What a credential says: for the pool itself, or for one lease (its id and fencing token) on one member. */
export type CredentialClaims = { m: string; r: 'pool' } | { m: string; r: 'lease'; l: string; t: number };

/** The guard's verdict on one Authorization header (pure; see docker/image/mcp-guard.cjs). */
export type CredentialDecision =
  | { admit: true; claims: CredentialClaims; floor: number | null }
  | { admit: false; why: string; ended?: boolean };

/** A pool run's key pair: the public half goes to the guards, the private half signs credentials. */
export interface CredentialKeys {
  /** base64 DER SPKI of an Ed25519 public key. */
  publicKey: string;
  privateKey: KeyObject;
}

interface McpGuardModule {
  mcpRequestRefusal(host: string | undefined, origin: string | undefined, port: number, allowedHosts?: readonly string[]): string | undefined;
  startMcpGuard(options: McpGuardOptions): Promise<McpGuard>;
  credentialDecision(key: string, member: string, floor: number | null, authorization: string | undefined): CredentialDecision;
  signCredential(privateKey: KeyObject, claims: CredentialClaims): string;
  newCredentialKeys(): CredentialKeys;
  FENCE_PATH: string;
  RESET_PATH: string;
  HEALTH_PATH: string;
}

/** Where the guard ships: `docker/` is in package.json "files", next to `dist/`. */
export function mcpGuardPath(root: string = packageRoot()): string {
  return join(root, 'docker', 'image', 'mcp-guard.cjs');
}

let loaded: McpGuardModule | undefined;

function guardModule(): McpGuardModule {
  if (!loaded) {
    const module = createRequire(import.meta.url)(mcpGuardPath()) as Partial<McpGuardModule>;
    if (typeof module.startMcpGuard !== 'function' || typeof module.credentialDecision !== 'function' || typeof module.signCredential !== 'function') {
      throw new Error(`${mcpGuardPath()} does not export startMcpGuard, credentialDecision and signCredential; reinstall @cinnamon-qa/containers`);
    }
    loaded = module as McpGuardModule;
  }
  return loaded;
}

/**
 * Starts the guard on `host`:`port` in front of the server on 127.0.0.1:`upstreamPort`: it refuses what
 * {@link mcpRequestRefusal} refuses (403, text/plain naming the rule), then what {@link credentialDecision}
 * refuses (401), and streams the rest through unchanged (without the credential).
 */
export function startMcpGuard(options: McpGuardOptions): Promise<McpGuard> {
  return guardModule().startMcpGuard(options);
}

/**
 * Why a request must be refused, or undefined when it may pass: Host must be `localhost:<port>`,
 * `127.0.0.1:<port>` or one of `allowedHosts`; Origin, when present, the same with `http://`. The rules are
 * documented in the guard.
 */
export function mcpRequestRefusal(host: string | undefined, origin: string | undefined, port: number, allowedHosts: readonly string[] = []): string | undefined {
  return guardModule().mcpRequestRefusal(host, origin, port, allowedHosts);
}

/** The guard's liveness path (no credential; 200 when the server behind it answers HTTP). */
export function healthPath(): string {
  return guardModule().HEALTH_PATH;
}

/**
 * The guard's rule for an Authorization header, given the pool's public key, the member's id and floor (the lowest lease token
 * admitted; null while closed). Admitting a lease credential returns the floor raised to its token.
 */
export function credentialDecision(key: string, member: string, floor: number | null, authorization: string | undefined): CredentialDecision {
  return guardModule().credentialDecision(key, member, floor, authorization);
}

/** A credential (what follows `Bearer `) for `claims`, signed with the pool's private key. */
export function signCredential(privateKey: KeyObject, claims: CredentialClaims): string {
  return guardModule().signCredential(privateKey, claims);
}

/** A new Ed25519 key pair for a pool run. */
export function newCredentialKeys(): CredentialKeys {
  return guardModule().newCredentialKeys();
}

/** The path the pool POSTs `{"floor": token}` to, with a pool credential, to end every lease below `token`. */
export function fencePath(): string {
  return guardModule().FENCE_PATH;
}

/**
 * The path the pool POSTs to, with a pool credential, to soft-reset a member: the guard ends every MCP session on
 * the server (each a browser context) but its own keeper's, so the browser keeps running (guard-sessions.cjs).
 */
export function resetPath(): string {
  return guardModule().RESET_PATH;
}
