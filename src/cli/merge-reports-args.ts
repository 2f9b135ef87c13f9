import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** Where `cinnamon-pool merge-reports` writes when no --output is given. @defaultValue 'pool-report-merged' */
export const DEFAULT_MERGED_REPORT_DIR = 'pool-report-merged';

/** The command's lines in `cinnamon-pool help`. */
export const MERGE_REPORTS_USAGE = `  merge-reports DIR...   merge the pool reports of several shards into one (each DIR is a shard's
               pool-report/ folder; shards of one shared pool are not counted twice; reports
               of different run groups, i.e. CI builds, are refused)
    --output DIR                    where to write the merged report (default ${DEFAULT_MERGED_REPORT_DIR}/)
`;

export interface MergeReportsCommand {
  kind: 'merge-reports';
  /** Shard report folders, as given (messages name them so). */
  dirs: string[];
  outputDir: string;
}

/**
 * Parses `merge-reports DIR... [--output DIR]`. `usage` raises the CLI's usage error (exit code 2); it is passed
 * in because cli-args.ts, which defines that error, imports this file.
 */
export function parseMergeReports(args: readonly string[], usage: (message: string) => never): MergeReportsCommand {
  let parsed: { values: { output?: string | undefined }; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: { output: { type: 'string', short: 'o' } }, strict: true, allowPositionals: true });
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
  const dirs = parsed.positionals;
  const outputDir = parsed.values.output ?? DEFAULT_MERGED_REPORT_DIR;
  if (dirs.length === 0) usage("'merge-reports' needs the shards' report folders, e.g. merge-reports shard-1/pool-report shard-2/pool-report");
  const seen = new Map<string, string>();
  for (const dir of dirs) {
    const earlier = seen.get(resolve(dir));
    if (earlier !== undefined) usage(`'${dir}' is the same folder as '${earlier}': give each shard's folder once`);
    seen.set(resolve(dir), dir);
  }
  const clash = seen.get(resolve(outputDir));
  if (clash !== undefined) usage(`--output '${outputDir}' is the shard folder '${clash}': the merge would overwrite a shard's report; choose another folder`);
  return { kind: 'merge-reports', dirs, outputDir };
}
