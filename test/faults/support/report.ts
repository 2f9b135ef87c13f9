/**
 * The one line per scenario that BENCHMARKS.md's reliability table is filled from. Printed whether the
 * scenario passed or not (before its assertions fail the test), so a red run still reports its figures.
 */
export function reportFault(scenario: string, runs: number, passed: number, figure: string): void {
  console.info(`[faults] ${scenario}: runs=${runs} passed=${passed} ${figure}`);
}
