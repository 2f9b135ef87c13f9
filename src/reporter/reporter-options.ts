import { z } from 'zod';

/** Where the pool report files go, relative to the config file's folder. @defaultValue 'pool-report' */
export const DEFAULT_POOL_REPORT_DIR = 'pool-report';

export const poolReporterOptionsSchema = z
  .object({
    /** Folder for pool-analytics.json, pool-audit.jsonl and pool-analytics.html. @defaultValue 'pool-report' */
    outputDir: z.string().min(1).default(DEFAULT_POOL_REPORT_DIR),
    /** The page is never opened automatically (a CI-safe default; open it from the path printed). @defaultValue 'never' */
    open: z.literal('never').default('never'),
  })
  .strict();

export type PoolReporterOptionsInput = z.input<typeof poolReporterOptionsSchema>;
export type PoolReporterOptions = z.output<typeof poolReporterOptionsSchema>;

/**
 * Parses the options given in the config. Playwright also passes its own keys to every reporter
 * (`configDir`, `onlyFailures` under `--list`, and `_`-prefixed internals such as `_mode`), so those are set
 * aside and only the rest is checked strictly.
 */
export function parsePoolReporterOptions(raw: unknown): PoolReporterOptions {
  const own = raw && typeof raw === 'object' ? Object.fromEntries(Object.entries(raw).filter(([k]) => !PLAYWRIGHT_KEYS.has(k) && !k.startsWith('_'))) : {};
  const result = poolReporterOptionsSchema.safeParse(own);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ');
  throw new Error(`Invalid options for @cinnamon-qa/containers/reporter: ${issues}. Expected { outputDir?: string, open?: 'never' }.`);
}

const PLAYWRIGHT_KEYS = new Set(['configDir', 'onlyFailures']);
