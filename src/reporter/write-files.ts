import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SystemAnalytics } from '../pool/analytics-types.js';
import type { AuditEvent } from '../store/pool-store.js';
import { renderHtmlReport } from './html-report.js';
import type { TestTiming } from './test-timings.js';

export const ANALYTICS_JSON_FILE = 'pool-analytics.json';
export const AUDIT_JSONL_FILE = 'pool-audit.jsonl';
export const ANALYTICS_HTML_FILE = 'pool-analytics.html';

export interface ReportFiles {
  json: string;
  jsonl: string;
  html: string;
}

/** `pool-analytics.json` holds exactly the SystemAnalytics shape (what `getSystemAnalytics()` returns). */
export function analyticsJson(analytics: SystemAnalytics): string {
  return `${JSON.stringify(analytics, null, 2)}\n`;
}

/** One JSON object per line: greppable, and a reader can stream it. */
export function auditJsonl(audit: readonly AuditEvent[]): string {
  return audit.map((event) => JSON.stringify(event)).join('\n') + (audit.length ? '\n' : '');
}

/** Writes the three report files into outputDir (created if missing) and returns their paths. */
export async function writeReportFiles(
  outputDir: string,
  data: { analytics: SystemAnalytics; audit: readonly AuditEvent[]; tests?: readonly TestTiming[]; origin?: string },
): Promise<ReportFiles> {
  await mkdir(outputDir, { recursive: true });
  const files: ReportFiles = {
    json: join(outputDir, ANALYTICS_JSON_FILE),
    jsonl: join(outputDir, AUDIT_JSONL_FILE),
    html: join(outputDir, ANALYTICS_HTML_FILE),
  };
  const html = renderHtmlReport({
    analytics: data.analytics,
    audit: data.audit,
    ...(data.tests ? { tests: data.tests } : {}),
    ...(data.origin ? { origin: data.origin } : {}),
  });
  await Promise.all([writeFile(files.json, analyticsJson(data.analytics)), writeFile(files.jsonl, auditJsonl(data.audit)), writeFile(files.html, html)]);
  return files;
}
