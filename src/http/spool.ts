// A temporary file that collects JSON pieces as they are produced, in any
// order, and streams them back as one JSON array in sequence order: a model
// rebalance of 10 000 portfolios is answered without holding it in memory
// or reading it back from the database.
import { randomUUID } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

export class JsonSpool {
  private offset = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly starts: Float64Array;
  private readonly lengths: Int32Array;
  private disposed = false;

  private constructor(
    private readonly path: string,
    private readonly file: FileHandle,
    readonly size: number,
  ) {
    this.starts = new Float64Array(size);
    this.lengths = new Int32Array(size).fill(-1);
  }

  /** A spool for `size` pieces, numbered 0..size-1. */
  static async create(size: number): Promise<JsonSpool> {
    const path = join(tmpdir(), `ogs-spool-${randomUUID()}.json`);
    return new JsonSpool(path, await open(path, 'w+'), size);
  }

  /** Stores piece `seq` (JSON text). Writes are queued; `flushed()` waits for them. */
  put(seq: number, json: string): void {
    const bytes = Buffer.from(json);
    const at = this.offset;
    this.offset += bytes.length;
    this.starts[seq] = at;
    this.lengths[seq] = bytes.length;
    this.writing = this.writing.then(async () => {
      await this.file.write(bytes, 0, bytes.length, at);
    });
  }

  flushed(): Promise<void> {
    return this.writing;
  }

  /** The pieces as one JSON array, in sequence order; the file is removed once read (or on error). */
  stream(): Readable {
    const spool = this;
    async function* pieces(): AsyncGenerator<Buffer> {
      try {
        await spool.flushed();
        yield Buffer.from('[');
        for (let seq = 0; seq < spool.size; seq++) {
          const length = spool.lengths[seq]!;
          if (length < 0) throw new Error(`spool piece ${seq} was never written`);
          const buffer = Buffer.alloc(length + (seq === 0 ? 0 : 1));
          if (seq > 0) buffer.write(',');
          await spool.file.read(buffer, seq === 0 ? 0 : 1, length, spool.starts[seq]!);
          yield buffer;
        }
        yield Buffer.from(']');
      } finally {
        await spool.dispose();
      }
    }
    return Readable.from(pieces(), { objectMode: false });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.writing.catch(() => undefined);
    await this.file.close();
    await rm(this.path, { force: true });
  }
}
