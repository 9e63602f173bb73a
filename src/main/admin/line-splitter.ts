// Cuts a byte stream into lines ("\n", an optional "\r" before it is
// dropped) with a cap on line length, for the admin socket's JSON lines.
// Pure: bytes in, events out. A line longer than the cap is reported once
// and skipped up to its newline, so one runaway line costs at most `max`
// bytes of memory and the lines after it still work.

export type LineEvent = { kind: 'line'; text: string } | { kind: 'too_long'; bytes: number };

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  /** Inside an over-long line: bytes dropped so far (0 = not discarding). */
  private discarding = 0;

  constructor(readonly max: number) {}

  push(chunk: Buffer): LineEvent[] {
    const out: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.discarding > 0) {
        this.discarding += end - start;
        if (nl >= 0) {
          out.push({ kind: 'too_long', bytes: this.discarding });
          this.discarding = 0;
        }
      } else if (this.held + (end - start) > this.max) {
        this.discarding = this.held + (end - start);
        this.parts = [];
        this.held = 0;
        if (nl >= 0) {
          out.push({ kind: 'too_long', bytes: this.discarding });
          this.discarding = 0;
        }
      } else {
        this.parts.push(chunk.subarray(start, end));
        this.held += end - start;
        if (nl >= 0) out.push(this.take());
      }
      if (nl < 0) break;
      start = nl + 1;
    }
    return out;
  }

  /** The stream ended: a last line without its newline still counts. */
  end(): LineEvent[] {
    if (this.discarding > 0) {
      const bytes = this.discarding;
      this.discarding = 0;
      return [{ kind: 'too_long', bytes }];
    }
    return this.held > 0 ? [this.take()] : [];
  }

  private take(): LineEvent {
    let buf = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    if (buf.length > 0 && buf[buf.length - 1] === CR) buf = buf.subarray(0, buf.length - 1);
    this.parts = [];
    this.held = 0;
    // Copy out of the socket's chunk so it can be freed.
    return { kind: 'line', text: buf.toString('utf8') };
  }
}
