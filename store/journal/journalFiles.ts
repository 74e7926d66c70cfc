/**
 * The ingest journal's files: numbered segments under one directory, appended one frame per
 * group commit and fsynced before the commit is reported. A segment is closed once it passes
 * `segmentBytes` and deleted once every batch in it is in the store behind the journal.
 *
 * A newly created segment's directory entry is fsynced too: without it a crash could lose the
 * file itself (fsync(2) on the file does not make its name durable).
 */
import { mkdirSync } from 'node:fs';
import { open, readdir, readFile, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { decodeFrames, type JournalBatch } from './frame.js';

const SUFFIX = '.journal';
const NAME = /^(\d{12})\.journal$/;

export interface Segment {
  readonly id: number;
  readonly path: string;
  bytes: number;
  /** batches written here and not yet in the store behind */
  unapplied: number;
  /** no more writes go here */
  sealed: boolean;
}

export interface RecoveredSegment {
  path: string;
  batches: JournalBatch[];
  /** bytes past the last intact frame (a write cut short by a crash) */
  droppedBytes: number;
}

export class JournalFiles {
  private current: Segment | null = null;
  private fh: FileHandle | null = null;
  private nextId = 1;
  /** segments still on disk, oldest first */
  private readonly live: Segment[] = [];

  constructor(private readonly dir: string, private readonly segmentBytes: number) {}

  /** Segments left by the last run, oldest first (ids continue after them). */
  async existing(): Promise<string[]> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const names = (await readdir(this.dir)).filter((n) => NAME.test(n)).sort();
    const last = names.at(-1);
    if (last) this.nextId = Number(NAME.exec(last)![1]) + 1;
    return names.map((n) => path.join(this.dir, n));
  }

  /** Read one old segment: its intact frames, and how much of its tail did not check out. */
  async read(file: string): Promise<RecoveredSegment> {
    const buf = await readFile(file);
    const { batches, validBytes } = decodeFrames(buf);
    return { path: file, batches, droppedBytes: buf.length - validBytes };
  }

  async remove(file: string): Promise<void> {
    await unlink(file);
  }

  get segments(): number {
    return this.live.length;
  }

  get bytes(): number {
    let n = 0;
    for (const s of this.live) n += s.bytes;
    return n;
  }

  /**
   * Append one frame and fsync it. On a failed write the segment is cut back to where the
   * frame started, so the failed batch (whose devices get an error and send it again) is not
   * replayed at the next start; if even that fails, the segment is closed and a new one used.
   */
  async append(frame: Buffer): Promise<Segment> {
    const seg = await this.writable();
    const fh = this.fh!;
    const start = seg.bytes;
    try {
      let done = 0;
      while (done < frame.length) done += (await fh.write(frame, done, frame.length - done, start + done)).bytesWritten;
      await fh.datasync();
    } catch (e) {
      try {
        await fh.truncate(start);
        await fh.datasync();
      } catch {
        seg.sealed = true;
      }
      throw e;
    }
    seg.bytes = start + frame.length;
    seg.unapplied++;
    if (seg.bytes >= this.segmentBytes) seg.sealed = true;
    return seg;
  }

  /** One batch of `seg` is in the store behind: delete the segment once it holds no other. */
  async applied(seg: Segment): Promise<void> {
    seg.unapplied--;
    if (seg.sealed && seg.unapplied === 0) await this.drop(seg);
  }

  /**
   * Close the open segment. With `removeApplied`, every segment whose batches are all in the
   * store is deleted (at a clean stop: all of them, leaving an empty directory).
   */
  async close(removeApplied: boolean): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (this.current) this.current.sealed = true;
    this.current = null;
    await fh?.close();
    if (removeApplied) for (const s of [...this.live]) if (s.unapplied === 0) await this.drop(s);
  }

  private async writable(): Promise<Segment> {
    if (this.current && !this.current.sealed) return this.current;
    const old = this.fh;
    const previous = this.current;
    this.fh = null;
    this.current = null;
    await old?.close();
    if (previous && previous.unapplied === 0) await this.drop(previous);
    const id = this.nextId++;
    const file = path.join(this.dir, String(id).padStart(12, '0') + SUFFIX);
    // the service's own (docs/security.md): readings of every device
    const fh = await open(file, 'wx', 0o600);
    await syncDir(this.dir);
    const seg: Segment = { id, path: file, bytes: 0, unapplied: 0, sealed: false };
    this.fh = fh;
    this.current = seg;
    this.live.push(seg);
    return seg;
  }

  private async drop(seg: Segment): Promise<void> {
    const i = this.live.indexOf(seg);
    if (i < 0) return;
    this.live.splice(i, 1);
    await unlink(seg.path);
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
