import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** The last few lines of a server's log, on one line, for a death reason; '' when unreadable. */
export function logTail(path: string, bytes = 1_500): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(bytes, size);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      const lines = buffer.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
      return lines.slice(-3).join(' | ').slice(-600);
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}
