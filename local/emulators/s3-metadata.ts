import { createHash } from 'node:crypto';
import { createReadStream, type Dirent, readFileSync, rmSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ClassicLevel } from 'classic-level';

/**
 * What the local S3 keeps of an object besides its bytes: its MD5 (the ETag), the headers S3
 * stores with it, and the size and mtime of the file they describe.
 */
export interface ObjectEntry {
  readonly md5: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Inside s3rver's folder, named as no bucket can be, so no bucket ever holds it. */
const FOLDER = '.object-metadata';

/** s3rver's own per-object files, which an earlier sluice kept. */
const OLD_MD5 = '._S3rver_object.md5';
const OLD_METADATA = '._S3rver_metadata.json';

const id = (bucket: string, key: string): string => `${bucket}/${key}`;

/**
 * Every object's {@link ObjectEntry}, in one LevelDB under s3rver's folder. s3rver keeps them in
 * two more files per object (`.md5` and `metadata.json`), and creating a file is the dearest
 * thing a small PUT does here: about a tenth of the main thread's CPU on small files went to
 * `openat`. A LevelDB put appends to its log.
 *
 * A put is seen by every later read at once, though LevelDB stores it a moment later: s3rver
 * answers from the same process, and a read between the two must not find the old entry.
 */
export class ObjectMetadata {
  /** Entries (or deletions, as null) not yet in LevelDB. */
  private readonly pending = new Map<string, ObjectEntry | null>();
  /** Each key's latest write to LevelDB, while one is under way. */
  private readonly writing = new Map<string, Promise<void>>();

  private constructor(private readonly db: ClassicLevel<string, ObjectEntry>) {}

  /**
   * Opens the store of s3rver's folder `directory`, and moves into it the entries of objects an
   * earlier sluice stored in s3rver's own files (found among `files`, the folder's listing),
   * which it then deletes.
   */
  static async open(directory: string, files: readonly Dirent[]): Promise<ObjectMetadata> {
    const db = new ClassicLevel<string, ObjectEntry>(join(directory, FOLDER), {
      valueEncoding: 'json',
    });
    await db.open();
    const store = new ObjectMetadata(db);
    await store.importOldFiles(directory, files);
    return store;
  }

  /** s3rver lists every folder in its own as a bucket. */
  static isOwnFolder(name: string): boolean {
    return name === FOLDER;
  }

  /**
   * The entry of the object at `path`, checked against the file: one that a crash left
   * describing other bytes (the file was replaced, and the process stopped before its entry
   * was) is made again from the file, keeping its headers. Throws ENOENT for a missing object.
   */
  async get(bucket: string, key: string, path: string): Promise<ObjectEntry> {
    const stat = statSync(path);
    const entry = this.read(bucket, key);
    if (entry && entry.size === stat.size && entry.mtimeMs === stat.mtimeMs) return entry;
    const md5 = createHash('md5');
    await pipeline(createReadStream(path), md5);
    const made = { ...fileOf(stat, md5.digest('hex')), headers: entry?.headers ?? {} };
    // Only if the file is still the one hashed: a PUT may have replaced it meanwhile.
    const now = statSync(path);
    if (now.size === stat.size && now.mtimeMs === stat.mtimeMs) await this.put(bucket, key, made);
    return made;
  }

  /** Stores the entry of the object just written to `path`. */
  put(bucket: string, key: string, entry: ObjectEntry): Promise<void> {
    return this.write(id(bucket, key), entry);
  }

  /** The entry of the file now at `path`, with its MD5 and headers. */
  static describe(path: string, md5: string, headers: Record<string, string>): ObjectEntry {
    return { ...fileOf(statSync(path), md5), headers };
  }

  delete(bucket: string, key: string): Promise<void> {
    return this.write(id(bucket, key), null);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private read(bucket: string, key: string): ObjectEntry | undefined {
    const pending = this.pending.get(id(bucket, key));
    if (pending !== undefined) return pending ?? undefined;
    return this.db.getSync(id(bucket, key));
  }

  /**
   * One key's writes go to LevelDB one after another: issued together, libuv's threads could
   * apply them in either order, and leave the older entry stored.
   */
  private write(name: string, entry: ObjectEntry | null): Promise<void> {
    this.pending.set(name, entry);
    const previous = this.writing.get(name) ?? Promise.resolve();
    const written = previous
      .catch(() => {})
      .then(() => (entry ? this.db.put(name, entry) : this.db.del(name)));
    this.writing.set(name, written);
    return written.finally(() => {
      if (this.pending.get(name) === entry) this.pending.delete(name);
      if (this.writing.get(name) === written) this.writing.delete(name);
    });
  }

  private async importOldFiles(directory: string, files: readonly Dirent[]): Promise<void> {
    // In LevelDB batches, and each file deleted only once its entry is written.
    let batch: { readonly name: string; readonly entry?: ObjectEntry; readonly base: string }[] =
      [];
    const flush = async () => {
      await this.db.batch(
        batch.flatMap(({ name, entry }) =>
          entry ? [{ type: 'put' as const, key: name, value: entry }] : [],
        ),
      );
      for (const { base } of batch) {
        rmSync(`${base}${OLD_MD5}`, { force: true });
        rmSync(`${base}${OLD_METADATA}`, { force: true });
      }
      batch = [];
    };
    for (const found of files) {
      if (!found.isFile() || !found.name.endsWith(OLD_MD5)) continue;
      const base = join(found.parentPath, found.name.slice(0, -OLD_MD5.length));
      // s3rver escapes characters in folder names on Windows only, where sluice does not run.
      const [bucket = '', ...key] = base.slice(directory.length + 1).split('/');
      let headers: Record<string, string> = {};
      try {
        headers = JSON.parse(readFileSync(`${base}${OLD_METADATA}`, 'utf8'));
      } catch {
        // s3rver wrote the headers after the MD5: a crash in between left none
      }
      let entry: ObjectEntry | undefined;
      try {
        const md5 = readFileSync(`${base}${OLD_MD5}`, 'utf8');
        entry = ObjectMetadata.describe(`${base}._S3rver_object`, md5, headers);
      } catch (error) {
        // An object deleted by hand leaves its files to delete, and nothing to keep.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      batch.push({ name: id(bucket, key.join('/')), entry, base });
      if (batch.length >= 1000) await flush();
    }
    await flush();
  }
}

const fileOf = (stat: Stats, md5: string) => ({
  md5,
  size: stat.size,
  mtimeMs: stat.mtimeMs,
});
