/**
 * Collects the output of a `docker exec` without a TTY. Docker multiplexes both streams into one: each frame is
 * an 8-byte header (byte 0 = stream: 1 stdout, 2 stderr; bytes 4-7 = payload length, big-endian) followed by the
 * payload, and frames may be split across or packed into chunks arbitrarily.
 */
export class ExecOutput {
  private pending: Buffer = Buffer.alloc(0);
  private readonly chunks: { 1: Buffer[]; 2: Buffer[] } = { 1: [], 2: [] };
  private readonly sizes = { 1: 0, 2: 0 };
  private truncated = false;

  /** @param maxBytesPerStream output beyond this is dropped (a runaway `find /` must not exhaust the runner). */
  constructor(private readonly maxBytesPerStream = 1024 * 1024) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const kind = this.pending[0];
      const payload = this.pending.subarray(8, 8 + size);
      this.pending = this.pending.subarray(8 + size);
      // Stream 0 (stdin echo) does not occur without a TTY; anything unknown is treated as stderr.
      this.append(kind === 1 ? 1 : 2, payload);
    }
  }

  get stdout(): string {
    return this.text(1);
  }

  get stderr(): string {
    return this.text(2) + (this.truncated ? `\n[output truncated at ${this.maxBytesPerStream} bytes per stream]` : '');
  }

  private append(stream: 1 | 2, payload: Buffer): void {
    const room = this.maxBytesPerStream - this.sizes[stream];
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = payload.length > room ? payload.subarray(0, room) : payload;
    if (kept.length < payload.length) this.truncated = true;
    // Copy: the payload is a view into a buffer docker-modem may reuse.
    this.chunks[stream].push(Buffer.from(kept));
    this.sizes[stream] += kept.length;
  }

  private text(stream: 1 | 2): string {
    return Buffer.concat(this.chunks[stream]).toString('utf8');
  }
}
