import { describe, expect, it } from 'vitest';
import { parsePoolReporterOptions } from './reporter-options.js';

describe('pool reporter options', () => {
  it("sets aside the keys Playwright adds to every reporter's options, and checks the rest strictly", () => {
    expect(parsePoolReporterOptions({ configDir: '/x', onlyFailures: false, _mode: 'list', _commandHash: 'h', outputDir: 'out' })).toEqual({
      outputDir: 'out',
      open: 'never',
    });
    expect(parsePoolReporterOptions(undefined)).toEqual({ outputDir: 'pool-report', open: 'never' });
    expect(() => parsePoolReporterOptions({ outDir: 'typo' })).toThrow(/Invalid options for @cinnamon-qa\/containers\/reporter/);
  });
});
