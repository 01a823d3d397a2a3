/**
 * Reading a trainer's output with bounded memory, whatever it prints: stdout split into lines with at most maxLine
 * bytes held (a longer line is reported once by its first bytes and the rest dropped until the next newline), and
 * only the last tailBytes of stderr kept, for the error message.
 */

/** How many bytes of an over-long line are kept, for its excerpt. */
const EXCERPT = 120;

export class BoundedLines {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;

  constructor(
    private readonly maxLine: number,
    private readonly onLine: (line: string) => void,
    /** A line longer than maxLine: its first bytes. */
    private readonly onOverlong: (excerpt: string) => void,
  ) {}

  push(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(0x0a, from);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.discarding) {
        if (this.pendingBytes + (end - from) > this.maxLine) {
          const head = Buffer.concat([...this.pending, chunk.subarray(from, Math.min(end, from + EXCERPT))]);
          this.onOverlong(head.subarray(0, EXCERPT).toString('utf8'));
          this.reset();
          this.discarding = true;
        } else if (end > from) {
          this.pending.push(chunk.subarray(from, end));
          this.pendingBytes += end - from;
        }
      }
      if (nl === -1) break;
      if (!this.discarding) this.onLine(this.take());
      this.reset();
      from = nl + 1;
    }
  }

  /** The output ended: a last line without a final newline is still a line. */
  end(): void {
    if (this.pending.length && !this.discarding) this.onLine(this.take());
    this.reset();
  }

  private take(): string {
    return Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
  }

  private reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = false;
  }
}

export class TailBuffer {
  private tail = Buffer.alloc(0);

  constructor(private readonly bytes: number) {}

  push(chunk: Buffer): void {
    const all = Buffer.concat([this.tail, chunk]);
    // Copied when trimmed, so the tail does not pin the (possibly large) chunk it was cut from.
    this.tail = all.length <= this.bytes ? all : Buffer.from(all.subarray(-this.bytes));
  }

  /** The tail as text. Cut at a byte boundary, it may start inside a UTF-8 character: that replacement is dropped. */
  text(): string {
    return this.tail.toString('utf8').replace(/^\uFFFD+/, '');
  }
}
