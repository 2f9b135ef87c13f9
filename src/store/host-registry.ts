import type { ContainerSpec } from '../config/pool-config.js';
import type { ContainerRecord, Lease, PoolStore } from './pool-store.js';

/**
 * One machine contributing members to a shared pool (issue 11): written by its host agent
 * (`cinnamon-pool agent`), read by every shard. Times are Redis' own (TIME inside the scripts), never a
 * participant's clock.
 */
export interface HostRecord {
  hostId: string;
  /** Grows by one each time an agent claims this host id; every write of the agent carries it. */
  epoch: number;
  /** The address other machines reach this host's members at (an IP or DNS name, no port). */
  address: string;
  /** The agent's control endpoint (`http://address:port`): a holder's reset and trace go through it. */
  controlUrl: string;
  runtime: 'docker' | 'process';
  /** Member ids this host contributes, in registration order. */
  members: string[];
  /** Redis time (epoch ms) the current epoch was claimed. */
  claimedAt: number;
  /** Redis time (epoch ms) the host lease runs out unless renewed; 0 when it has already. */
  expiresAt: number;
  /** True once the agent began to drain: its members get no new grants. */
  draining: boolean;
}

export interface HostListing extends HostRecord {
  /** The host lease is held (not expired): the agent is alive as far as Redis knows. */
  live: boolean;
}

export interface ReapResult {
  /** Host ids whose lease had expired and whose members were removed. */
  hosts: string[];
  /** Leases those members held, ended as 'revoked' (error: host-lost). */
  revoked: Lease[];
  removedMembers: string[];
}

export interface HostClaimInput {
  hostId: string;
  address: string;
  controlUrl: string;
  runtime: 'docker' | 'process';
  /** Host lease TTL, ms: the agent renews well within it and stops serving before it can run out. */
  ttlMs: number;
}

export interface HostClaim {
  epoch: number;
  /** What the claim removed of this host id's earlier epoch (a restarted agent takes over its leftovers). */
  reaped: ReapResult;
}

/** The pool's credential signing key pair, shared by every participant through the store (see README, Security). */
export interface StoredSigningKeys {
  /** base64 DER SPKI (Ed25519): what guards check with. */
  publicKey: string;
  /** base64 DER PKCS#8 (Ed25519): what shards sign lease credentials with. */
  privateKey: string;
}

/**
 * The host registry of a shared pool (Redis only: `RedisHostRegistry`). Atomic Lua like the rest of the store.
 * Errors: HOST_TAKEN (another live agent holds the host id), STALE_EPOCH (the caller's epoch is no longer the
 * host's: it was reaped or replaced), plus the store's own.
 */
export interface HostRegistry {
  /** Takes the host lease (`SET NX PX`) with epoch + 1 and removes what an earlier epoch left. HOST_TAKEN if live. */
  claim(input: HostClaimInput): Promise<HostClaim>;
  /** Extends the host lease to Redis' now + ttlMs; STALE_EPOCH once it was lost. Returns the new expiresAt. */
  renew(hostId: string, epoch: number, ttlMs: number): Promise<number>;
  /** Writes this host's member records (state Starting, with hostId and address). STALE_EPOCH if not current. */
  registerMembers(hostId: string, epoch: number, specs: readonly ContainerSpec[]): Promise<ContainerRecord[]>;
  /** Marks the host draining: its members get no new grants. */
  setDraining(hostId: string, epoch: number): Promise<void>;
  /**
   * The agent leaves: leases still held on its members end as 'revoked', the members and the host record are
   * removed and the host lease deleted. Returns the revoked leases.
   */
  leave(hostId: string, epoch: number, reason: string): Promise<Lease[]>;
  /** Removes every host whose lease expired (any participant may call it; idempotent). */
  reapExpired(): Promise<ReapResult>;
  listHosts(): Promise<HostListing[]>;
  /**
   * The store as this host's agent writes it: transition, revoke, recordUsage and registerContainers refuse
   * STALE_EPOCH unless `epoch` still holds the host lease; everything else is the shared store.
   */
  scopedStore(hostId: string, epoch: number): PoolStore;
  /** The pool's signing keys: created by the first caller (from `generate`), the same for everyone after. */
  signingKeys(generate: () => StoredSigningKeys): Promise<StoredSigningKeys>;
}
