import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface UniqueKeyIndexOptions {
  /** Where sorted runs of hashes spill once memory is full. @default os.tmpdir() */
  readonly tmpDir?: string;
  /** Keys held in memory before a run spills to disk; rounded up to a power of two. @default 524,288 (an 8 MB table) */
  readonly memoryKeys?: number;
}

// Spilled runs are written from Uint32 halves and read back as BigUint64, which assumes the
// little-endian layout of every Lambda and developer CPU (x86-64, arm64).
if (endianness() !== 'LE') throw new Error('UniqueKeyIndex needs a little-endian CPU');

const SAMPLE_EVERY = 512;
const BLOOM_BITS_PER_KEY = 16;
const RUNS_PER_BLOOM = 8;

/** A blocked Bloom filter: all eight bits of a key sit in one 512-bit block, one cache miss per test. */
class BloomFilter {
  private readonly words: Uint32Array;
  private readonly blocks: number;

  constructor(keys: number) {
    this.blocks = Math.max(1, Math.ceil((keys * BLOOM_BITS_PER_KEY) / 512));
    this.words = new Uint32Array(this.blocks * 16);
  }

  add(hi: number, lo: number): void {
    // The low half is forced odd (see hash()), so its lowest bit must not pick the block.
    const base = ((lo >>> 1) % this.blocks) << 4;
    const step = (hi >>> 9) | 1;
    for (let i = 0; i < 8; i++) {
      const bit = (hi + Math.imul(i, step)) & 511;
      this.words[base + (bit >>> 5)] =
        (this.words[base + (bit >>> 5)] as number) | (1 << (bit & 31));
    }
  }

  mayContain(hi: number, lo: number): boolean {
    const base = ((lo >>> 1) % this.blocks) << 4;
    const step = (hi >>> 9) | 1;
    for (let i = 0; i < 8; i++) {
      const bit = (hi + Math.imul(i, step)) & 511;
      if (((this.words[base + (bit >>> 5)] as number) & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** A sorted run of 64-bit hashes on disk, with every 512th hash kept in memory to find its block. */
interface Run {
  readonly fd: number;
  readonly count: number;
  readonly samples: BigUint64Array;
}

/** A group of runs sharing one Bloom filter, so a lookup tests a few filters, not every run. */
interface RunGroup {
  readonly bloom: BloomFilter;
  readonly runs: Run[];
}

/**
 * Sorts the first `count` 64-bit values of `from`, stored as little-endian [lo, hi] Uint32 pairs,
 * by LSD radix on 16-bit digits, using `to` (as large) as scratch. BigUint64Array's own sort
 * compares BigInts and is several times slower. Four passes: the result ends back in `from`.
 */
function radixSort64(from: Uint32Array, to: Uint32Array, count: number, counts: Uint32Array): void {
  let source = from;
  let target = to;
  for (let pass = 0; pass < 4; pass++) {
    const word = pass >>> 1;
    const shift = (pass & 1) * 16;
    counts.fill(0);
    for (let i = 0; i < count; i++) {
      const digit = ((source[2 * i + word] as number) >>> shift) & 0xffff;
      counts[digit] = (counts[digit] as number) + 1;
    }
    let sum = 0;
    for (let d = 0; d < 65_536; d++) {
      const c = counts[d] as number;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < count; i++) {
      const digit = ((source[2 * i + word] as number) >>> shift) & 0xffff;
      const at = counts[digit] as number;
      counts[digit] = at + 1;
      target[2 * at] = source[2 * i] as number;
      target[2 * at + 1] = source[2 * i + 1] as number;
    }
    [source, target] = [target, source];
  }
}

function lowerBound(values: BigUint64Array, target: bigint, end = values.length): number {
  let low = 0;
  let high = end;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((values[mid] as bigint) < target) low = mid + 1;
    else high = mid;
  }
  return low;
}

// 2^53 is the end of exact integers; 15 digits stay well inside it.
const MAX_INTEGER_DIGITS = 15;
const MAX_RANGES = 1 << 20;

/**
 * The value of the key `text[from, to)` written as a canonical non-negative integer (no sign, no
 * leading zero), or -1. Only canonical keys may be compared as numbers: `07` and `7` differ.
 */
function canonicalInteger(text: string, from: number, to: number): number {
  const length = to - from;
  if (length === 0 || length > MAX_INTEGER_DIGITS || (length > 1 && text.charCodeAt(from) === 48))
    return -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * Integer keys seen in increasing order, as sorted ranges of consecutive values: ids 1 to
 * 16,000,000 with a few gaps take a few KB instead of 16 million hash-table entries. Keys that
 * arrive out of order are left to the caller's hash table.
 */
class IntegerRanges {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private max = -1;
  private full = false;

  /**
   * Records `value` if it extends the ranges and returns whether it is new; returns false for a
   * value inside a range (a repeat), and undefined when the caller must decide.
   */
  add(value: number): boolean | undefined {
    if (value > this.max) {
      // Once full, values above the last range may sit in the hash table: the caller must look.
      if (this.full) return undefined;
      const last = this.ends.length - 1;
      if (last >= 0 && value === this.max + 1) this.ends[last] = value;
      else if (this.starts.length < MAX_RANGES) {
        this.starts.push(value);
        this.ends.push(value);
      } else {
        this.full = true;
        return undefined;
      }
      this.max = value;
      return true;
    }
    return this.contains(value) ? false : undefined;
  }

  private contains(value: number): boolean {
    let low = 0;
    let high = this.starts.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      if ((this.starts[mid] as number) > value) high = mid - 1;
      else if ((this.ends[mid] as number) < value) low = mid + 1;
      else return true;
    }
    return false;
  }
}

/**
 * Remembers which keys it has seen, in bounded memory, for `unique` and `primaryKey` checks on
 * files of any size. Keys are reduced to 63-bit hashes: for 16 million keys the chance that two
 * different keys collide (and one is wrongly reported as a duplicate) is about 1 in 70,000.
 * Hashes live in an open-addressing table; when it is half full they are sorted and spilled to a
 * run file, summarised in memory by a Bloom filter and a sparse sample, so a lookup reads the
 * disk only for the ~0.1% of new keys the filter cannot rule out. Call `close()` to delete the runs.
 *
 * Ids that arrive in increasing order, the usual case, never reach the hash table: they are kept
 * as ranges of consecutive integers, exact, in a few bytes per gap (`IntegerRanges`).
 */
export class UniqueKeyIndex {
  private readonly maxSlots: number;
  private slots: number;
  // Interleaved [lo, hi] pairs: one cache line per probe instead of two.
  private table: Uint32Array;
  private count = 0;
  private readonly groups: RunGroup[] = [];
  private readonly tmpDir: string;
  private dir: string | undefined;
  private readonly block = new BigUint64Array(SAMPLE_EVERY);
  private readonly counts = new Uint32Array(65_536);
  private readonly ranges = new IntegerRanges();
  private hi = 0;
  private lo = 0;

  constructor(options: UniqueKeyIndexOptions = {}) {
    const memoryKeys = Math.max(8, options.memoryKeys ?? 1 << 19);
    this.maxSlots = 2 ** Math.ceil(Math.log2(memoryKeys * 2));
    // Small files stay in a small, cache-friendly table; it doubles up to maxSlots.
    this.slots = Math.min(this.maxSlots, 1 << 16);
    this.table = new Uint32Array(this.slots * 2);
    this.tmpDir = options.tmpDir ?? tmpdir();
  }

  /**
   * Records the key `text[from, to)` (all of `text` by default) and returns true if it had not
   * been seen before. A range spares a string per key for the usual increasing integer ids.
   */
  add(text: string, from = 0, to = text.length): boolean {
    const value = canonicalInteger(text, from, to);
    if (value >= 0) {
      const known = this.ranges.add(value);
      if (known !== undefined) return known;
    }
    return this.addHashed(from === 0 && to === text.length ? text : text.slice(from, to));
  }

  private addHashed(key: string): boolean {
    this.hash(key);
    const { hi, lo } = this;
    const table = this.table;
    const mask = this.slots - 1;
    let slot = hi & mask;
    for (;;) {
      const slotLo = table[2 * slot] as number;
      if (slotLo === 0) break;
      if (slotLo === lo && table[2 * slot + 1] === hi) return false;
      slot = (slot + 1) & mask;
    }
    if (this.groups.length > 0 && this.inRuns(hi, lo)) return false;
    table[2 * slot] = lo;
    table[2 * slot + 1] = hi;
    if (++this.count >= this.slots / 2) {
      if (this.slots < this.maxSlots) this.grow();
      else this.spill();
    }
    return true;
  }

  private grow(): void {
    const old = this.table;
    this.slots *= 2;
    this.table = new Uint32Array(this.slots * 2);
    const mask = this.slots - 1;
    for (let i = 0; i < old.length; i += 2) {
      const lo = old[i] as number;
      if (lo === 0) continue;
      const hi = old[i + 1] as number;
      let slot = hi & mask;
      while (this.table[2 * slot] !== 0) slot = (slot + 1) & mask;
      this.table[2 * slot] = lo;
      this.table[2 * slot + 1] = hi;
    }
  }

  /** Deletes the spilled runs. The index cannot be used afterwards. */
  close(): void {
    for (const group of this.groups) for (const run of group.runs) closeSync(run.fd);
    this.groups.length = 0;
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  // Two differently seeded 32-bit hashes (FNV-1a and a Murmur-style mix), each finalised with
  // Murmur3's avalanche, stand in for one 64-bit hash without allocating a BigInt per key.
  private hash(key: string): void {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c ^ key.length;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 13;
    }
    h1 ^= h1 >>> 16;
    h1 = Math.imul(h1, 0x85ebca6b);
    h1 ^= h1 >>> 13;
    h1 = Math.imul(h1, 0xc2b2ae35);
    h1 ^= h1 >>> 16;
    h2 ^= h2 >>> 16;
    h2 = Math.imul(h2, 0x85ebca6b);
    h2 ^= h2 >>> 13;
    h2 = Math.imul(h2, 0xc2b2ae35);
    h2 ^= h2 >>> 16;
    this.hi = h1 >>> 0;
    // Zero marks an empty slot, so the low half is never zero (63 bits of hash remain).
    this.lo = (h2 | 1) >>> 0;
  }

  private inRuns(hi: number, lo: number): boolean {
    let target: bigint | undefined;
    for (const group of this.groups) {
      if (!group.bloom.mayContain(hi, lo)) continue;
      target ??= (BigInt(hi) << 32n) | BigInt(lo);
      for (const run of group.runs) if (this.runHas(run, target)) return true;
    }
    return false;
  }

  private runHas(run: Run, target: bigint): boolean {
    const sample = lowerBound(run.samples, target + 1n) - 1;
    if (sample < 0) return false;
    const start = sample * SAMPLE_EVERY;
    const length = Math.min(SAMPLE_EVERY, run.count - start);
    readSync(run.fd, this.block, 0, length * 8, start * 8);
    const index = lowerBound(this.block, target, length);
    return index < length && this.block[index] === target;
  }

  private spill(): void {
    this.dir ??= mkdtempSync(join(this.tmpDir, 'sluice-unique-'));
    let group = this.groups.at(-1);
    if (group === undefined || group.runs.length >= RUNS_PER_BLOOM) {
      group = { bloom: new BloomFilter(this.count * RUNS_PER_BLOOM), runs: [] };
      this.groups.push(group);
    }
    // Sorted in place: entries are packed into the table's first half, the second half is the
    // radix scratch, so a spill allocates nothing and peak memory stays that of the table.
    const table = this.table;
    let n = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      const lo = table[2 * slot] as number;
      if (lo === 0) continue;
      const hi = table[2 * slot + 1] as number;
      table[2 * n] = lo;
      table[2 * n + 1] = hi;
      group.bloom.add(hi, lo);
      n++;
    }
    radixSort64(table.subarray(0, 2 * n), table.subarray(2 * n, 4 * n), n, this.counts);
    const sorted = new BigUint64Array(table.buffer, 0, n);
    const fd = openSync(join(this.dir, `run-${this.groups.length}-${group.runs.length}.bin`), 'w+');
    writeSync(fd, sorted);
    const samples = new BigUint64Array(Math.ceil(n / SAMPLE_EVERY));
    for (let i = 0; i < samples.length; i++) samples[i] = sorted[i * SAMPLE_EVERY] as bigint;
    group.runs.push({ fd, count: n, samples });
    this.table.fill(0);
    this.count = 0;
  }
}
