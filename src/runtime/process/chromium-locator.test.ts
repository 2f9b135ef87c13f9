import { describe, expect, it } from 'vitest';
import { isPoolError } from '../../errors/pool-error.js';
import { locateChromium } from './chromium-locator.js';

const only = (...paths: string[]) => (path: string) => paths.includes(path);

describe('locateChromium', () => {
  it('prefers Playwright\'s downloaded browser when the file exists', () => {
    const found = locateChromium({
      env: { PATH: '/usr/bin' },
      playwrightExecutablePath: () => '/cache/ms-playwright/chromium-1/chrome',
      isExecutable: only('/cache/ms-playwright/chromium-1/chrome', '/usr/bin/chromium'),
    });
    expect(found).toEqual({ executablePath: '/cache/ms-playwright/chromium-1/chrome', source: 'playwright' });
  });

  it('falls back to the system browser on PATH, in command order then PATH order', () => {
    const found = locateChromium({
      env: { PATH: '/opt/bin:/usr/bin' },
      playwrightExecutablePath: () => '/cache/missing/chrome',
      isExecutable: only('/usr/bin/chromium', '/opt/bin/google-chrome'),
    });
    expect(found).toEqual({ executablePath: '/usr/bin/chromium', source: 'path' });
  });

  it('finds chromium-browser and google-chrome too', () => {
    const env = { PATH: '/usr/bin' };
    const none = () => undefined;
    expect(locateChromium({ env, playwrightExecutablePath: none, isExecutable: only('/usr/bin/chromium-browser') }).executablePath).toBe(
      '/usr/bin/chromium-browser',
    );
    expect(locateChromium({ env, playwrightExecutablePath: none, isExecutable: only('/usr/bin/google-chrome') }).executablePath).toBe(
      '/usr/bin/google-chrome',
    );
  });

  it('treats a throwing Playwright registry as absent', () => {
    const found = locateChromium({
      env: { PATH: '/usr/bin' },
      playwrightExecutablePath: () => {
        throw new Error('no playwright-core');
      },
      isExecutable: only('/usr/bin/chromium'),
    });
    expect(found.source).toBe('path');
  });

  it('fails with install instructions when nothing is found', () => {
    let error: unknown;
    try {
      locateChromium({ env: { PATH: '/usr/bin' }, playwrightExecutablePath: () => '/cache/chrome', isExecutable: () => false });
    } catch (e) {
      error = e;
    }
    expect(isPoolError(error, 'RUNTIME_ERROR')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('apt-get install chromium');
    expect(message).toContain('npx playwright install chromium');
    expect(message).toContain('/cache/chrome');
  });

  it('uses an explicit path, and rejects one that is not executable', () => {
    expect(locateChromium({ executablePath: '/my/chrome', isExecutable: only('/my/chrome') })).toEqual({ executablePath: '/my/chrome', source: 'option' });
    expect(() => locateChromium({ executablePath: '/my/chrome', isExecutable: () => false })).toThrow(/not an executable file/);
  });

  it('finds a real browser on this machine', () => {
    const found = locateChromium();
    expect(found.executablePath).toMatch(/chrom/);
  });
});
