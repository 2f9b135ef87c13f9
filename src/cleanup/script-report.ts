/**
 * The report a sandbox script (src/cleanup/sh) prints on stdout: one `KEYWORD value...` line per finding. Exit
 * code 0 means done, 1 that the job could not be completed (the lines say why), 2 a broken precondition.
 */

/** What a script reported, line by line. */
export interface ScriptReport {
  /** Signals sent: `TERM 123 chromium`. */
  signals: string[];
  /** Browser processes that outlived SIGKILL (or SIGTERM for a soft reset): `123 chromium`. */
  survivors: string[];
  /** Browser processes found by a check: `123 chromium`. */
  processes: string[];
  /** Paths that could not be removed. */
  left: string[];
  /** Leftover files found by a check (with `N more in <dir>` summaries). */
  files: string[];
  /** Remote ends of open connections to the server's port, as `address:port`. */
  connections: string[];
  /** Why the server does not answer. */
  down: string[];
  /** Broken preconditions (unset variables, unsafe directories). */
  errors: string[];
}

/**
 * Each keyword a script prints, the report field its lines go to, and how a line's value is read there:
 * `MORE <n> in <dir>` reads `<n> more in <dir>`, a `CONN` remote end is decoded from /proc/net/tcp's hex.
 */
const KEYWORDS: Readonly<Record<string, readonly [keyof ScriptReport, (value: string) => string]>> = {
  SIGNAL: ['signals', (v) => v],
  SURVIVOR: ['survivors', (v) => v],
  PROC: ['processes', (v) => v],
  LEFT: ['left', (v) => v],
  FILE: ['files', (v) => v],
  MORE: ['files', (v) => `${v.split(' ')[0]} more ${v.slice(v.indexOf(' ') + 1)}`],
  CONN: ['connections', (v) => decodeProcNetAddress(v)],
  DOWN: ['down', (v) => v],
  ERROR: ['errors', (v) => v],
};

/** Splits a script's stdout into its report lines; unknown lines are ignored. */
export function parseScriptReport(stdout: string): ScriptReport {
  const report: ScriptReport = { signals: [], survivors: [], processes: [], left: [], files: [], connections: [], down: [], errors: [] };
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const keyword = Object.hasOwn(KEYWORDS, line.slice(0, space)) ? KEYWORDS[line.slice(0, space)] : undefined;
    if (!keyword) continue;
    const [field, read] = keyword;
    report[field].push(read(line.slice(space + 1).trim()));
  }
  return report;
}

/**
 * `0100007F:963E` → `127.0.0.1:38462`; IPv6 (32 hex digits, four little-endian words) → `[::ffff:…]:port`.
 * /proc/net/tcp prints addresses in the kernel's byte order, which is little-endian on every machine we run.
 */
export function decodeProcNetAddress(hex: string): string {
  const [address = '', portHex = ''] = hex.split(':');
  const port = Number.parseInt(portHex, 16);
  if (address.length === 8) {
    const bytes = [6, 4, 2, 0].map((i) => Number.parseInt(address.slice(i, i + 2), 16));
    return `${bytes.join('.')}:${port}`;
  }
  if (address.length === 32) {
    const groups: string[] = [];
    for (let word = 0; word < 4; word++) {
      const w = address.slice(word * 8, word * 8 + 8);
      // Each 32-bit word is little-endian: reverse its bytes, then split into two 16-bit groups.
      const be = [6, 4, 2, 0].map((i) => w.slice(i, i + 2)).join('');
      groups.push(be.slice(0, 4), be.slice(4, 8));
    }
    const v4Mapped = groups.slice(0, 5).every((g) => g === '0000') && groups[5]?.toLowerCase() === 'ffff';
    if (v4Mapped) {
      const tail = address.slice(24, 32);
      const bytes = [6, 4, 2, 0].map((i) => Number.parseInt(tail.slice(i, i + 2), 16));
      return `[::ffff:${bytes.join('.')}]:${port}`;
    }
    return `[${groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':').toLowerCase()}]:${port}`;
  }
  return hex;
}
