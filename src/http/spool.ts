// A temporary file that collects JSON pieces as they are produced, in any
// order, and streams them back as one JSON array in sequence order: a model
// rebalance of 10 000 portfolios is answered without holding it in memory
// or reading it back from the database.
//
// Nothing is left behind: a spool is removed once streamed, when its answer
// is abandoned (the client went away, the stream was never read), when the
// process exits, and, for a process that was killed, by `sweep`. A file is
// named after its host and process, so a sweep can tell a dead request's file
// from a live one even when several replicas share the directory.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type FileHandle, open, readdir, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

const PREFIX = 'ogs-spool-';
/** Bytes encoded in memory before a write. */
const CHUNK = 1 << 20;
/** Bytes of the answer handed to the response at a time when it is streamed back. */
const OUT_CHUNK = 1 << 16;
/** `ogs-spool-<host>-<pid>-<uuid>.json` (older files: `ogs-spool-<uuid>.json`). */
const NAME = /^ogs-spool-(.+)-(\d+)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/;
/** The host part of a file name: characters that cannot break the name pattern. */
const HOST = hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';

/** Paths of this process's spools that are still open, removed synchronously if the process exits. */
const live = new Set<string>();
process.once('exit', () => {
  for (const path of live) rmSync(path, { force: true });
});

export class JsonSpool {
  private offset = 0;
  private writing: Promise<void> = Promise.resolve();
  /** Pieces are encoded into a chunk, written when full: memory stays at a few chunks, whatever the answer's size. */
  private chunk: Buffer = Buffer.allocUnsafeSlow(CHUNK);
  private used = 0;
  /** Chunks written and free again. */
  private readonly free: Buffer[] = [];
  private readonly starts: Float64Array;
  private readonly lengths: Int32Array;
  /** Set once removed: pieces put after that are dropped. */
  private disposal: Promise<void> | null = null;

  private constructor(
    private readonly path: string,
    private readonly file: FileHandle,
    readonly size: number,
  ) {
    this.starts = new Float64Array(size);
    this.lengths = new Int32Array(size).fill(-1);
  }

  /** A spool for `size` pieces, numbered 0..size-1, in `directory` (the system temporary directory by default). */
  static async create(size: number, directory: string = tmpdir()): Promise<JsonSpool> {
    const path = join(directory, `${PREFIX}${HOST}-${process.pid}-${randomUUID()}.json`);
    live.add(path);
    try {
      return new JsonSpool(path, await open(path, 'w+'), size);
    } catch (error) {
      live.delete(path);
      throw error;
    }
  }

  /** Stores piece `seq` (JSON text, or its UTF-8 bytes, copied). Writes are queued; `stream()` waits for them. */
  put(seq: number, json: string | Uint8Array): void {
    if (this.disposal !== null) return;
    // At most 3 bytes of UTF-8 per UTF-16 unit: a piece that surely fits is encoded straight into the chunk.
    let length = typeof json !== 'string' ? json.length : json.length * 3 <= CHUNK - this.used ? -1 : Buffer.byteLength(json);
    if (length > CHUNK - this.used) this.flush();
    if (length > CHUNK) {
      this.queue(Buffer.from(json), length, this.offset);
    } else {
      if (typeof json === 'string') length = this.chunk.write(json, this.used);
      else this.chunk.set(json, this.used);
      this.used += length;
    }
    this.starts[seq] = this.offset;
    this.lengths[seq] = length;
    this.offset += length;
  }

  /** Queues the chunk's pieces for writing and starts a new chunk. */
  private flush(): void {
    if (this.used === 0) return;
    const chunk = this.chunk;
    this.queue(chunk, this.used, this.offset - this.used, () => this.free.push(chunk));
    this.chunk = this.free.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
    this.used = 0;
  }

  private queue(bytes: Buffer, length: number, at: number, done?: () => void): void {
    this.writing = this.writing.then(async () => {
      await this.file.write(bytes, 0, length, at);
      done?.();
    });
  }

  /**
   * The pieces as one JSON array, in sequence order. The file is removed once
   * read, on error, and when the stream is destroyed unread (a client that left).
   */
  stream(): Readable {
    const spool = this;
    async function* pieces(): AsyncGenerator<Buffer> {
      spool.flush();
      await spool.writing;
      // Pieces are read back a window of the file at a time (they lie nearly in sequence order: each was
      // written when its portfolio finished) and copied with their commas into chunks of the answer.
      const window = Buffer.allocUnsafe(CHUNK);
      let windowStart = 0;
      let windowLength = 0;
      let out = Buffer.allocUnsafe(OUT_CHUNK);
      out[0] = 0x5b; // [
      let used = 1;
      for (let seq = 0; seq < spool.size; seq++) {
        const length = spool.lengths[seq]!;
        if (length < 0) throw new Error(`spool piece ${seq} was never written`);
        const start = spool.starts[seq]!;
        let piece: Buffer;
        if (length > CHUNK) {
          piece = Buffer.allocUnsafe(length);
          await spool.file.read(piece, 0, length, start);
        } else {
          if (start < windowStart || start + length > windowStart + windowLength) {
            windowStart = Math.max(0, start - (CHUNK >> 4));
            ({ bytesRead: windowLength } = await spool.file.read(window, 0, CHUNK, windowStart));
            if (start + length > windowStart + windowLength) {
              windowStart = start;
              ({ bytesRead: windowLength } = await spool.file.read(window, 0, CHUNK, start));
            }
          }
          piece = window.subarray(start - windowStart, start - windowStart + length);
        }
        if (used + length + 2 > out.length) {
          yield out.subarray(0, used);
          out = Buffer.allocUnsafe(Math.max(OUT_CHUNK, length + 2));
          used = 0;
        }
        if (seq > 0) out[used++] = 0x2c; // ,
        used += piece.copy(out, used);
      }
      out[used++] = 0x5d; // ]
      yield out.subarray(0, used);
    }
    const readable = Readable.from(pieces(), { objectMode: false });
    // 'close' comes after the end, an error, or a destroy before the first read.
    readable.once('close', () => void this.dispose());
    return readable;
  }

  /** Closes and removes the file; safe to call more than once. */
  dispose(): Promise<void> {
    this.disposal ??= (async () => {
      await this.writing.catch(() => undefined);
      await this.file.close().catch(() => undefined);
      await rm(this.path, { force: true });
      live.delete(this.path);
    })();
    return this.disposal;
  }
}

/** True when no process with this id runs on this host (a process we may not signal still runs). */
function processIsDead(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Removes spool files of requests that are no longer served: this process's
 * files that no request holds, files of dead processes on this host, and any
 * file older than `minAgeMs` (another host's, or a pid that was reused).
 * Returns how many it removed.
 */
export async function sweepSpools(directory: string, now: Date, minAgeMs: number): Promise<number> {
  let removed = 0;
  for (const name of await readdir(directory)) {
    if (!name.startsWith(PREFIX)) continue;
    const path = join(directory, name);
    const owner = NAME.exec(name);
    const ours = owner !== null && owner[1] === HOST;
    const pid = ours ? Number(owner[2]) : null;
    if (pid === process.pid && live.has(path)) continue;
    const dead = pid === process.pid || (pid !== null && processIsDead(pid));
    if (!dead) {
      const info = await stat(path).catch(() => null);
      if (info === null || now.getTime() - info.mtimeMs < minAgeMs) continue;
    }
    await rm(path, { force: true });
    removed += 1;
  }
  return removed;
}
