/**
 * Runs reporter hooks so that nothing they throw reaches Playwright. Playwright counts an exception from a
 * reporter as a reporter error and fails the run with it; the pool report is a by-product of the run and
 * must never change its outcome. The first error of each hook is printed in full; repeats (onTestEnd fails
 * for every test) are counted and mentioned once at the end.
 */
export class HookGuard {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly prefix = '[cinnamon-qa pool reporter]',
  ) {}

  run<T>(hook: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      this.report(hook, error);
      return undefined;
    }
  }

  async runAsync<T>(hook: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (error) {
      this.report(hook, error);
      return undefined;
    }
  }

  /** Errors caught so far, by hook. */
  get errorCounts(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /** One line about repeats that were not printed; nothing when there were none. */
  flushRepeats(): void {
    const repeats = [...this.counts].filter(([, n]) => n > 1).map(([hook, n]) => `${n - 1} more in ${hook}`);
    if (repeats.length) this.safeWrite(`${this.prefix} further errors not shown: ${repeats.join(', ')}.\n`);
  }

  report(hook: string, error: unknown): void {
    const count = (this.counts.get(hook) ?? 0) + 1;
    this.counts.set(hook, count);
    if (count > 1) return;
    const detail = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    this.safeWrite(`${this.prefix} ${hook} failed; the test run is not affected, the pool report may be incomplete.\n${indent(detail)}\n`);
  }

  private safeWrite(text: string): void {
    try {
      this.write(text);
    } catch {
      // Nowhere left to report to: staying silent beats breaking the run.
    }
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .slice(0, 12)
    .map((line) => `  ${line}`)
    .join('\n');
}
