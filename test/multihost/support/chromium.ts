import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's Chromium (Playwright cannot download browsers on these machines). */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/**
 * argv for a headless Chromium that prints the DOM of `url` and exits. Root needs --no-sandbox; the other flags
 * keep it from calling home (a namespace has no default route: such calls would only hang). A fresh profile
 * each time, so no cache answers for the network.
 */
export function chromiumDumpDom(url: string): { argv: string[]; removeProfile(): void } {
  const profile = mkdtempSync(join(tmpdir(), 'cq-chromium-'));
  const argv = [
    CHROMIUM,
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    '--dump-dom',
    url,
  ];
  return { argv, removeProfile: () => rmSync(profile, { recursive: true, force: true }) };
}
