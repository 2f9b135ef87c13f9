import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SystemAnalytics } from '../pool/analytics-types.js';
import type { AuditEvent } from '../store/pool-store.js';
import { parseAuditEvents, parseSystemAnalytics } from './analytics-schema.js';

/**
 * Environment variable naming the file where the pool's final analytics are left for the reporter.
 *
 * Why a file: with `playwright test`, Playwright runs globalSetup's teardown (which stops the coordinator)
 * BEFORE it calls `reporter.onEnd`, so at onEnd there is nobody left to ask. The teardown writes this file
 * just before it closes the coordinator; the reporter reads it at onEnd. The reporter sets the variable in
 * onBegin (to a file in its outputDir) unless it is already set; either side may choose the path.
 */
export const ANALYTICS_SNAPSHOT_ENV = 'CINNAMON_POOL_SNAPSHOT';

/** Bumped when the file's shape changes incompatibly. */
export const ANALYTICS_SNAPSHOT_VERSION = 1;

export interface AnalyticsSnapshot {
  version: typeof ANALYTICS_SNAPSHOT_VERSION;
  /** Epoch ms when the snapshot was taken. */
  writtenAt: number;
  analytics: SystemAnalytics;
  audit: AuditEvent[];
}

/**
 * Writes the snapshot atomically (temp file + rename), so a reader never sees half a file. For the
 * globalSetup teardown: call it with `process.env[ANALYTICS_SNAPSHOT_ENV]` after the queue is drained and
 * before the coordinator stops.
 */
export async function writeAnalyticsSnapshot(file: string, data: { analytics: SystemAnalytics; audit: readonly AuditEvent[] }, now = Date.now()): Promise<void> {
  const snapshot: AnalyticsSnapshot = { version: ANALYTICS_SNAPSHOT_VERSION, writtenAt: now, analytics: data.analytics, audit: [...data.audit] };
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(snapshot));
  await rename(temp, file);
}

/** Reads a snapshot; undefined when there is no file, an error when there is one that cannot be used. */
export async function readAnalyticsSnapshot(file: string): Promise<AnalyticsSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const origin = `analytics snapshot ${file}`;
  let raw: Partial<AnalyticsSnapshot>;
  try {
    raw = JSON.parse(text) as Partial<AnalyticsSnapshot>;
  } catch (error) {
    throw new Error(`${origin} is not JSON: ${(error as Error).message}`);
  }
  if (raw.version !== ANALYTICS_SNAPSHOT_VERSION) throw new Error(`${origin} has version ${String(raw.version)}; this reporter reads version ${ANALYTICS_SNAPSHOT_VERSION}.`);
  return {
    version: ANALYTICS_SNAPSHOT_VERSION,
    writtenAt: Number(raw.writtenAt ?? 0),
    analytics: parseSystemAnalytics(raw.analytics, origin),
    audit: parseAuditEvents(raw.audit ?? [], origin),
  };
}
