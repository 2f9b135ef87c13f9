import { describe, expect, it } from 'vitest';
import { ExecOutput } from './exec-output.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('ExecOutput', () => {
  it('separates stdout and stderr frames however the chunks are cut', () => {
    const bytes = Buffer.concat([frame(1, 'hello '), frame(2, 'oops'), frame(1, 'world')]);
    const output = new ExecOutput();
    for (let i = 0; i < bytes.length; i += 3) output.push(bytes.subarray(i, i + 3));
    expect(output.stdout).toBe('hello world');
    expect(output.stderr).toBe('oops');
  });

  it('caps each stream and says so', () => {
    const output = new ExecOutput(4);
    output.push(frame(1, 'abcdef'));
    output.push(frame(1, 'gh'));
    output.push(frame(2, 'ok'));
    expect(output.stdout).toBe('abcd\n[output cut at 4 bytes]');
    expect(output.stderr).toBe('ok');
  });
});
