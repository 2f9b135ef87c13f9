/** Timing helpers shared by the benchmarks: high-resolution samples and their summary. */
export interface Summary {
  n: number;
  p50us: number;
  p99us: number;
  meanUs: number;
}

export function summarize(samplesNs: readonly bigint[] | readonly number[]): Summary {
  const us = [...samplesNs].map((v) => Number(v) / 1000).sort((a, b) => a - b);
  const at = (p: number) => us[Math.min(us.length - 1, Math.max(0, Math.ceil((p / 100) * us.length) - 1))] ?? 0;
  const mean = us.reduce((s, v) => s + v, 0) / Math.max(1, us.length);
  return { n: us.length, p50us: round(at(50)), p99us: round(at(99)), meanUs: round(mean) };
}

export async function time<T>(fn: () => Promise<T> | T): Promise<{ value: T; ns: bigint }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { value, ns: process.hrtime.bigint() - start };
}

export function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export function machine(): string {
  // Read lazily so importing this module stays cheap.
  return `${process.platform} ${process.arch}, Node ${process.version}`;
}
