import { BoundedOutput } from '../bounded-output.js';

/**
 * Collects the output of a `docker exec` without a TTY. Docker multiplexes both streams into one: each frame is
 * an 8-byte header (byte 0 = stream: 1 stdout, 2 stderr; bytes 4-7 = payload length, big-endian) followed by the
 * payload, and frames may be split across or packed into chunks arbitrarily. Each stream is kept up to a limit,
 * as in every exec (BoundedOutput).
 */
export class ExecOutput {
  private pending: Buffer = Buffer.alloc(0);
  private readonly out: BoundedOutput;
  private readonly err: BoundedOutput;

  /** @param maxBytesPerStream @defaultValue EXEC_OUTPUT_LIMIT_BYTES */
  constructor(maxBytesPerStream?: number) {
    this.out = new BoundedOutput(maxBytesPerStream);
    this.err = new BoundedOutput(maxBytesPerStream);
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const kind = this.pending[0];
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      // Stream 0 (stdin echo) does not occur without a TTY; anything unknown is treated as stderr.
      (kind === 1 ? this.out : this.err).push(payload);
    }
  }

  get stdout(): string {
    return this.out.text;
  }

  get stderr(): string {
    return this.err.text;
  }
}
