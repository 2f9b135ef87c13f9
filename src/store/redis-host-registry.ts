import { z } from 'zod';
import type { ContainerSpec } from '../config/pool-config.js';
import type { HostClaim, HostClaimInput, HostListing, HostRecord, HostRegistry, ReapResult, StoredSigningKeys } from './host-registry.js';
import type { ContainerRecord, Lease, PoolStore } from './pool-store.js';
import { parseStoredJson, parseStoredValue } from './record-schemas.js';
import { finite, invalidArgument, nonEmpty, positiveInteger } from './redis-arguments.js';
import type { Reply } from './redis-connection.js';
import { RedisRecordReader } from './redis-records.js';
import { RedisScopedStore } from './redis-scoped-store.js';
import type { RedisPoolStore } from './redis-store.js';

export interface RedisHostRegistryOptions {
  /** Life of the ended-lease records of leases a host's removal revoked, ms. @defaultValue the store's endedLeaseTtlMs */
  endedLeaseTtlMs?: number;
}

const hostRecordSchema = z.object({
  hostId: z.string(),
  epoch: z.number().int().positive(),
  address: z.string(),
  controlUrl: z.string(),
  runtime: z.enum(['docker', 'process']),
  members: z.array(z.string()),
  claimedAt: z.number().finite(),
  expiresAt: z.number().finite(),
  draining: z.boolean(),
}) satisfies z.ZodType<HostRecord>;

const signingKeysSchema = z.object({ publicKey: z.string().min(1), privateKey: z.string().min(1) }) satisfies z.ZodType<StoredSigningKeys>;
const idListSchema = z.array(z.string());

/**
 * The host registry of a shared pool on the Redis store's connection and keys: each change is one Lua script
 * (host-*.lua) and every time in it is Redis' own (TIME), whatever the caller's clock.
 */
export class RedisHostRegistry implements HostRegistry {
  private readonly endedLeaseTtlMs: number;
  private readonly read: RedisRecordReader;

  constructor(
    private readonly store: RedisPoolStore,
    options: RedisHostRegistryOptions = {},
  ) {
    this.endedLeaseTtlMs = positiveInteger('endedLeaseTtlMs', options.endedLeaseTtlMs ?? store.endedLeaseTtlMs);
    this.read = new RedisRecordReader(store.keys);
  }

  async claim(input: HostClaimInput): Promise<HostClaim> {
    const hostId = nonEmpty('hostId', input.hostId);
    if (input.runtime !== 'docker' && input.runtime !== 'process') throw invalidArgument('runtime', input.runtime, "'docker' or 'process'");
    const k = this.store.keys;
    const reply = await this.store.scriptClient.run(
      'host-claim',
      [k.hosts, k.hostLease(hostId), k.hostEpoch(hostId), k.containers, k.containerOrder, k.leaseExpiry, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [hostId, String(input.address), String(input.controlUrl), input.runtime, positiveInteger('ttlMs', input.ttlMs), this.endedLeaseTtlMs, k.revocationsChannel],
      { operation: 'claim', hostId },
    );
    const record = this.host(String(reply[0]), hostId);
    return { epoch: record.epoch, reaped: this.removal(reply.slice(1)) };
  }

  async renew(hostId: string, epoch: number, ttlMs: number): Promise<number> {
    const k = this.store.keys;
    const [expiresAt] = await this.store.scriptClient.run(
      'host-renew',
      [k.hosts, k.hostLease(hostId)],
      [hostId, epochArg(epoch), positiveInteger('ttlMs', ttlMs)],
      { operation: 'renew host lease', hostId, epoch },
    );
    return Number(expiresAt);
  }

  async registerMembers(hostId: string, epoch: number, specs: readonly ContainerSpec[]): Promise<ContainerRecord[]> {
    const pairs = specs.flatMap((spec) => {
      // State, time, hostId and address are set by the script (Redis' time, the host record's address).
      const record: ContainerRecord = {
        id: spec.id,
        name: spec.name,
        port: spec.port,
        state: 'Starting',
        stateChangedAt: 0,
        limits: { memoryMB: finite('memoryMB', spec.memoryMB), cpuPercent: finite('cpuPercent', spec.cpuPercent) },
        consecutiveFailures: 0,
      };
      return [spec.id, JSON.stringify(record)];
    });
    const k = this.store.keys;
    const reply = await this.store.scriptClient.run(
      'host-register-members',
      [k.hosts, k.hostLease(hostId), k.containers, k.containerOrder, k.leaseExpiry, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [hostId, epochArg(epoch), this.endedLeaseTtlMs, ...pairs],
      { operation: 'registerMembers', hostId, epoch },
    );
    return reply.map((raw, i) => this.read.container(String(raw), specs[i]!.id));
  }

  async setDraining(hostId: string, epoch: number): Promise<void> {
    const k = this.store.keys;
    await this.store.scriptClient.run('host-drain', [k.hosts, k.hostLease(hostId)], [hostId, epochArg(epoch)], {
      operation: 'setDraining',
      hostId,
      epoch,
    });
  }

  async leave(hostId: string, epoch: number, reason: string): Promise<Lease[]> {
    const k = this.store.keys;
    const reply = await this.store.scriptClient.run(
      'host-leave',
      [k.hosts, k.hostLease(hostId), k.containers, k.containerOrder, k.leaseExpiry, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [hostId, epochArg(epoch), String(reason), this.endedLeaseTtlMs, k.revocationsChannel],
      { operation: 'leave', hostId, epoch },
    );
    return this.removal(reply.slice(1)).revoked;
  }

  async reapExpired(): Promise<ReapResult> {
    const k = this.store.keys;
    const reply = await this.store.scriptClient.run(
      'host-reap',
      [k.hosts, k.hostLeasePrefix, k.containers, k.containerOrder, k.leaseExpiry, k.counters, k.leasePrefix, k.endedPrefix, k.grantPrefix],
      [this.endedLeaseTtlMs, k.revocationsChannel],
      { operation: 'reapExpired' },
    );
    return this.removal(reply.slice(1));
  }

  async listHosts(): Promise<HostListing[]> {
    const client = this.store.scriptClient;
    const k = this.store.keys;
    const all = await client.call('listHosts', () => client.redis.hgetall(k.hosts));
    const hosts = Object.keys(all)
      .sort()
      .map((id) => this.host(all[id]!, id));
    if (hosts.length === 0) return [];
    const held = await client.multi('listHosts', (m) => hosts.reduce((chain, h) => chain.get(k.hostLease(h.hostId)), m));
    return hosts.map((host, i) => {
      const live = held[i] === String(host.epoch);
      return { ...host, expiresAt: live ? host.expiresAt : 0, live };
    });
  }

  scopedStore(hostId: string, epoch: number): PoolStore {
    return new RedisScopedStore(this.store, this, { hostId: nonEmpty('hostId', hostId), epoch, hostLeaseKey: this.store.keys.hostLease(hostId) });
  }

  async signingKeys(generate: () => StoredSigningKeys): Promise<StoredSigningKeys> {
    const client = this.store.scriptClient;
    const key = this.store.keys.signingKeys;
    const existing = await client.call('signingKeys', () => client.redis.get(key));
    // Generate only when none is stored yet; SET NX then GET: a racing participant's pair wins, the same for all.
    const raw =
      existing ??
      String((await client.multi('signingKeys', (m) => m.set(key, JSON.stringify(parseKeys(generate())), 'NX').get(key)))[1]);
    return parseStoredJson(signingKeysSchema, raw, 'signing key pair', { prefix: this.store.keys.prefix, key });
  }

  private host(raw: string, hostId: string): HostRecord {
    return parseStoredJson(hostRecordSchema, raw, 'host record', { prefix: this.store.keys.prefix, key: this.store.keys.hosts, field: hostId });
  }

  /** claim, leave and reap reply: hostsJson, removedMembersJson, revokedLeaseJson... */
  private removal(reply: Reply): ReapResult {
    const at = { prefix: this.store.keys.prefix, key: this.store.keys.hosts };
    const hosts = parseStoredValue(idListSchema, JSON.parse(String(reply[0])), 'host id list', at);
    const removedMembers = parseStoredValue(idListSchema, JSON.parse(String(reply[1])), 'member id list', at);
    const revoked = reply.slice(2).map((raw) => this.read.lease(String(raw)));
    return { hosts, revoked, removedMembers };
  }
}

function epochArg(epoch: number): string {
  return String(positiveInteger('epoch', epoch));
}

function parseKeys(keys: StoredSigningKeys): StoredSigningKeys {
  const parsed = signingKeysSchema.safeParse(keys);
  if (!parsed.success) throw invalidArgument('generate()', '<keys>', '{ publicKey, privateKey } as non-empty base64 strings');
  return parsed.data;
}
