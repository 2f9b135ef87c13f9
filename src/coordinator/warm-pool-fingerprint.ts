import { createHash } from 'node:crypto';

/**
 * What a warm pool was started with, as named strings: a later run adopts its members only when every part is
 * the same. Parts are compared one by one so the log can say which one changed.
 */
export type FingerprintParts = Readonly<Record<string, string>>;

/** The parts of a pool that decide whether its members can serve another run unchanged. */
export interface FingerprintInput {
  runtime: string;
  poolId: string;
  /** Each member's id, name, port and limits, in pool order. */
  members: ReadonlyArray<{ id: string; name: string; port: number; limits?: unknown }>;
  /** The MCP server options (pool option mcpServer). */
  mcpServer: unknown;
  /** This package's version: a new version may start members differently. */
  packageVersion: string;
  /** The Node that runs servers and guards. */
  node: string;
  /** The idle stop the guards were started with. */
  idleMs: number;
  /** The image the members run (Docker runtime). */
  image?: string;
}

export function fingerprintParts(input: FingerprintInput): FingerprintParts {
  return {
    runtime: input.runtime,
    poolId: input.poolId,
    members: input.members.map((m) => `${m.id}=${m.name}@${m.port}${m.limits === undefined ? '' : ` ${stable(m.limits)}`}`).join(', '),
    mcpServer: stable(input.mcpServer),
    packageVersion: input.packageVersion,
    node: input.node,
    idleMs: String(input.idleMs),
    ...(input.image === undefined ? {} : { image: input.image }),
  };
}

/** A short hash of the parts (sha256, 16 hex digits), for labels and the state file. */
export function fingerprintOf(parts: FingerprintParts): string {
  return createHash('sha256').update(stable(parts)).digest('hex').slice(0, 16);
}

/** The parts that differ, as `name: old → new` lines (empty when the pools match). */
export function fingerprintChanges(before: FingerprintParts, after: FingerprintParts): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names.filter((n) => before[n] !== after[n]).map((n) => `${n}: ${before[n] ?? '(none)'} → ${after[n] ?? '(none)'}`);
}

/** JSON with object keys sorted, so equal values always give equal text. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  ) ?? 'undefined';
}
