import { EXEC_OUTPUT_LIMIT_BYTES } from './container-runtime.js';

/**
 * One output stream of an exec, kept up to a limit: a runaway `find /` must not exhaust the test process. What
 * is cut is said at the end of the text.
 */
export class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private cut = false;

  /** @param limitBytes @defaultValue EXEC_OUTPUT_LIMIT_BYTES */
  constructor(private readonly limitBytes = EXEC_OUTPUT_LIMIT_BYTES) {}

  push(chunk: Buffer): void {
    const room = this.limitBytes - this.size;
    if (chunk.length > room) this.cut = true;
    if (room <= 0) return;
    // A copy: the chunk may be a view into a buffer its stream reuses.
    const kept = Buffer.from(chunk.length > room ? chunk.subarray(0, room) : chunk);
    this.chunks.push(kept);
    this.size += kept.length;
  }

  get text(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    return this.cut ? `${text}\n[output cut at ${this.limitBytes} bytes]` : text;
  }
}
