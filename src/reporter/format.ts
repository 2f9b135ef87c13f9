/**
 * Number formatting shared by the terminal summary, the HTML page and the report annotations, so one figure
 * reads the same everywhere.
 */

/** `850 ms`, `12.3 s`, `4 m 05 s`: precision that a person can compare at a glance. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 2 : 1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  if (minutes < 60) return `${minutes} m ${String(seconds).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} m`;
}

/** A share in 0..1 as `63 %`. */
export function formatPercent(share: number): string {
  if (!Number.isFinite(share)) return '–';
  return `${Math.round(share * 100)} %`;
}

export function formatCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** Cuts long text (test titles) to `max` characters with an ellipsis; the full text goes in a tooltip. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

/** `2025-01-15 09:30:00 UTC`: UTC so that a report reads the same on every machine. */
export function formatTimestamp(epochMs: number): string {
  if (!Number.isFinite(epochMs) || epochMs <= 0) return '–';
  return `${new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
