import { relative } from 'node:path';
import { mergeShardReports, type MergedReport, readShardReport, ReportReadError, shardLabels } from '../reporter/merge-reports.js';
import { renderTerminalSummary, useColor } from '../reporter/terminal-summary.js';
import { writeReportFiles } from '../reporter/write-files.js';
import type { MergeReportsCommand } from './merge-reports-args.js';

export interface MergeReportsIo {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
}

/**
 * `cinnamon-pool merge-reports`: reads every shard folder first and writes nothing unless all of them are
 * readable (a ReportReadError lists each bad file; the CLI exits 1) and of one run group (else ReportMergeError
 * names the groups), then writes the merged pool-analytics.json,
 * pool-audit.jsonl and pool-analytics.html into the output folder and prints the summary.
 */
export async function runMergeReports(command: MergeReportsCommand, io: MergeReportsIo): Promise<number> {
  const labels = shardLabels(command.dirs);
  const read = await Promise.allSettled(command.dirs.map((dir, i) => readShardReport(dir, labels[i]!)));
  const failures = read.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length) {
    const first = failures[0];
    if (!(first instanceof ReportReadError)) throw first;
    const more = failures.length > 1 ? `\n${failures.map((f) => `  ${(f as Error).message}`).join('\n')}` : '';
    throw new ReportReadError(first.code, first.file, failures.length > 1 ? `${failures.length} shard reports cannot be merged, nothing written:${more}` : `${first.message} Nothing written.`);
  }
  const shards = read.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const merged = mergeShardReports(shards);
  const origin = `merge of ${shards.length} shard report${shards.length === 1 ? '' : 's'}`;
  const files = await writeReportFiles(command.outputDir, { analytics: merged.analytics, audit: merged.audit, origin });
  io.stdout.write(mergeHeading(merged, command.outputDir));
  io.stdout.write(
    renderTerminalSummary({
      analytics: merged.analytics,
      origin,
      files: [files.html, files.json, files.jsonl].map(display),
      color: useColor(io.stdout, io.env),
      width: io.stdout.columns ?? 100,
    }),
  );
  return 0;
}

/** What was merged and by which rule, so a reader can tell summed counters from shared ones. */
export function mergeHeading(merged: MergedReport, outputDir: string): string {
  const shards = merged.stores.flatMap((s) => s.labels);
  const lines = [`Merged ${shards.length} shard report${shards.length === 1 ? '' : 's'} (${shards.join(', ')}) into ${display(outputDir)}`];
  if (merged.runGroup !== undefined) lines.push(`  run group ${merged.runGroup}: every report is of this build`);
  for (const store of merged.stores) {
    if (store.labels.length > 1) {
      lines.push(`  ${store.labels.join(', ')}: one pool store (their audit trails share lease or run events): its counters and containers are the newest report's (${store.latest}), not their sum`);
    }
  }
  if (merged.stores.length > 1) {
    lines.push(
      `  ${merged.stores.length} separate pool stores (no lease or run event in common): their counters and containers are added` +
        (merged.qualifiedIds ? '; container ids used by more than one are prefixed with the shard name' : ''),
    );
  }
  const a = merged.analytics;
  lines.push(`  ${merged.audit.length} audit events · ${a.allocations.length} allocations in the merged trail · ${a.poolMetrics.totalAllocations} counted by the stores`);
  return `${lines.join('\n')}\n`;
}

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}
