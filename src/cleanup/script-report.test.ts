import { describe, expect, it } from 'vitest';
import { decodeProcNetAddress, parseScriptReport } from './script-report.js';

describe('script report parsing', () => {
  it('decodes /proc/net/tcp addresses (IPv4, IPv6, IPv4-mapped IPv6)', () => {
    expect(decodeProcNetAddress('0100007F:963E')).toBe('127.0.0.1:38462');
    expect(decodeProcNetAddress('010011AC:0BB9')).toBe('172.17.0.1:3001');
    expect(decodeProcNetAddress('0000000000000000FFFF00000100007F:9C40')).toBe('[::ffff:127.0.0.1]:40000');
    expect(decodeProcNetAddress('00000000000000000000000001000000:0050')).toBe('[0:0:0:0:0:0:0:1]:80');
  });

  it('leaves an address it cannot decode as it is', () => {
    expect(decodeProcNetAddress('0A:1')).toBe('0A:1');
  });

  it('sorts lines by keyword and ignores the rest', () => {
    const report = parseScriptReport('SIGNAL TERM 12 chromium\nnoise\nSURVIVOR 12 chromium\nFILE /tmp/x\nMORE 3 in /tmp\nCONN 0100007F:963E\nERROR bad\n');
    expect(report).toMatchObject({
      signals: ['TERM 12 chromium'],
      survivors: ['12 chromium'],
      files: ['/tmp/x', '3 more in /tmp'],
      connections: ['127.0.0.1:38462'],
      errors: ['bad'],
    });
  });

  it('files every keyword a script prints under its own field', () => {
    const report = parseScriptReport('PROC 7 chromium\nLEFT /tmp/a b\nDOWN nothing listens on port 1\nKEYWORDONLY\nconstructor x\n');
    expect(report).toEqual({
      signals: [],
      survivors: [],
      processes: ['7 chromium'],
      left: ['/tmp/a b'],
      files: [],
      connections: [],
      down: ['nothing listens on port 1'],
      errors: [],
    });
  });
});
