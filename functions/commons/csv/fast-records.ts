/**
 * Fast path for records that contain no quote character.
 *
 * Why it exists: measured on the 1M-row orders bench, creating and reading one string per cell
 * through papaparse is a large part of the validation cost (reading alone: ~0.36 s through
 * papaparse, ~0.20 s here). A record without a quote character is just the text between two line
 * terminators split on the delimiter, so it is cut on character codes and most of its cells are
 * checked in place, without a string. Measured gain on the whole validation: ~5–10%
 * (bench/csv.ts against --no-fast); the checks, keys and outputs still cost most of the time.
 *
 * papaparse remains the parser for every record with a quote character. Such a record spans from
 * its start to the first terminator where the quotes balance; the quoted records of a slice are
 * joined and parsed by papaparse in one call, and each must come back as exactly one clean
 * record of exactly its length. At the first that does not (a malformed or unclosed quote, a
 * record running past the slice), the rest of the slice goes to the regular papaparse path, and
 * the fast path resumes with the next slice, where papaparse's quote state is known closed.
 * Records the sink cannot settle in place (any doubt: an invalid cell, a formula, a ragged or
 * blank row) are split into cells and take the regular per-record path, so reports and outputs
 * are the same with the fast path on or off.
 */
import type Papa from 'papaparse';
import { daysInMonth, epochDays, fieldParser } from './field-checks.ts';
import type { Field } from './table-schema.ts';

/** True only when the cell `text[from, to)` is certainly valid for its field (never null). */
export type InPlaceCheck = (text: string, from: number, to: number) => boolean;

const POWERS_OF_TEN = Array.from({ length: 16 }, (_, power) => 10 ** power);
export const ALWAYS_VALID: InPlaceCheck = () => true;

function onlyConstraints(field: Field, allowed: readonly string[]): boolean {
  return Object.keys(field.constraints ?? {}).every((name) => allowed.includes(name));
}

function bounds(field: Field): { min: number; max: number } {
  const parse = fieldParser(field);
  const c = field.constraints ?? {};
  const min = c.minimum === undefined ? Number.NEGATIVE_INFINITY : parse(String(c.minimum));
  const max = c.maximum === undefined ? Number.POSITIVE_INFINITY : parse(String(c.maximum));
  // compileFieldCheck has already rejected a bound that does not parse.
  return { min: min as number, max: max as number };
}

/**
 * An in-place twin of `compileFieldCheck` for the common plain types, or undefined when the
 * field needs its string (formats, patterns, other types): the caller then slices the cell.
 * Conservative: `false` means "not certain", and the record takes the regular path.
 */
export function compileInPlaceCheck(field: Field): InPlaceCheck | undefined {
  const type = field.type ?? 'string';
  const format = field.format ?? 'default';
  const keys = ['required', 'unique'];
  if (type === 'string' && format === 'default') {
    if (!onlyConstraints(field, [...keys, 'enum', 'minLength', 'maxLength'])) return undefined;
    const c = field.constraints ?? {};
    const members = c.enum?.map(String);
    const minLength = c.minLength ?? 0;
    const maxLength = c.maxLength ?? Number.POSITIVE_INFINITY;
    if (members === undefined && minLength === 0 && maxLength === Number.POSITIVE_INFINITY)
      return ALWAYS_VALID;
    return (text, from, to) => {
      const length = to - from;
      if (length < minLength || length > maxLength) return false;
      if (members === undefined) return true;
      const first = text.charCodeAt(from);
      for (let i = 0; i < members.length; i++) {
        const member = members[i] as string;
        if (member.length !== length || member.charCodeAt(0) !== first) continue;
        if (length === 1 || text.startsWith(member, from)) return true;
      }
      return false;
    };
  }
  if (type === 'string' && format === 'email' && onlyConstraints(field, keys)) return isPlainEmail;
  const bounded = [...keys, 'minimum', 'maximum'];
  if (type === 'integer' && (field.bareNumber ?? true) && onlyConstraints(field, bounded)) {
    const { min, max } = bounds(field);
    return (text, from, to) => {
      const length = to - from;
      if (length < 1 || length > 15) return false;
      let value = 0;
      for (let i = from; i < to; i++) {
        const d = text.charCodeAt(i) - 48;
        if (d < 0 || d > 9) return false;
        value = value * 10 + d;
      }
      return value >= min && value <= max;
    };
  }
  if (
    type === 'number' &&
    (field.decimalChar ?? '.') === '.' &&
    field.groupChar === undefined &&
    (field.bareNumber ?? true) &&
    onlyConstraints(field, bounded)
  ) {
    const { min, max } = bounds(field);
    return (text, from, to) => {
      // The same exact arithmetic as numberParser's fast branch.
      let digitsSeen = 0;
      let decimals = -1;
      let value = 0;
      for (let i = from; i < to; i++) {
        const c = text.charCodeAt(i);
        if (c === 46 && decimals < 0) decimals = 0;
        else if (c >= 48 && c <= 57) {
          value = value * 10 + (c - 48);
          digitsSeen++;
          if (decimals >= 0) decimals++;
        } else return false;
      }
      if (digitsSeen === 0 || digitsSeen > 15) return false;
      const number = decimals <= 0 ? value : value / (POWERS_OF_TEN[decimals] as number);
      return number >= min && number <= max;
    };
  }
  if (type === 'date' && format === 'default' && onlyConstraints(field, bounded)) {
    const { min, max } = bounds(field);
    return (text, from, to) => {
      if (to - from !== 10 || text.charCodeAt(from + 4) !== 45 || text.charCodeAt(from + 7) !== 45)
        return false;
      const year = digitsAt(text, from, 4);
      const month = digitsAt(text, from + 5, 2);
      const day = digitsAt(text, from + 8, 2);
      if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
        return false;
      const days = epochDays(year, month, day);
      return days >= min && days <= max;
    };
  }
  return undefined;
}

/**
 * The EMAIL pattern of field-checks.ts (`^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$`) for printable
 * ASCII cells; any other character (a space, non-ASCII) leaves the verdict to the regex.
 */
const isPlainEmail: InPlaceCheck = (text, from, to) => {
  let at = -1;
  let lastDot = -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
    if (c === 64) {
      if (at >= 0 || i === from) return false;
      at = i;
    } else if (c === 46 && at >= 0) {
      // Domain labels are non-empty: no dot right after the @ or another dot.
      if (i === at + 1 || i === lastDot + 1) return false;
      lastDot = i;
    }
  }
  // At least one dot in the domain, and a non-empty last label.
  return at >= 0 && lastDot > at && lastDot < to - 1;
};

function digitsAt(text: string, from: number, length: number): number {
  let value = 0;
  for (let i = from; i < from + length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

export interface FastRecordContext {
  readonly delimiter: string;
  readonly quoteChar: string;
  readonly terminator: string;
  /** Records longer than this go to the regular path, which enforces the size limits. */
  readonly maxRecordChars: number;
  /** Settles a quote-free record in place; false when it needs its cells (nothing was done). */
  inPlace(text: string, start: number, lineEnd: number, next: number): boolean;
  /** The regular per-record path; false to stop reading. */
  record(cells: string[], start: number, next: number): boolean;
}

/**
 * Reads the complete records of a slice of text, quote-free ones in place and quoted ones through
 * one papaparse parse of all of them. One instance per file, reused for every slice.
 */
export class FastRecordReader {
  private readonly quotedParser: Papa.Parser;
  // Per slice: where each record starts and its line ends (-1 for a quoted record).
  private readonly starts: number[] = [];
  private readonly lineEnds: number[] = [];
  // Quoted records: their text, then papaparse's rows and row ends over the joined text.
  private readonly windows: string[] = [];
  private readonly rows: string[][] = [];
  private readonly rowEnds: number[] = [];
  private rowsClean = true;

  constructor(
    private readonly ctx: FastRecordContext,
    Parser: typeof Papa.Parser,
  ) {
    this.quotedParser = new Parser({
      delimiter: ctx.delimiter,
      quoteChar: ctx.quoteChar,
      newline: ctx.terminator as Papa.ParseConfig['newline'],
      step: ((result: Papa.ParseResult<string[]>) => this.step(result)) as never,
    });
  }

  private step(result: Papa.ParseResult<string[]>): void {
    const cells = result.data[0];
    const end = result.meta.cursor;
    // The joined text ends on a terminator: papaparse then reports an empty last "row".
    if (cells === undefined || end === (this.rowEnds.at(-1) ?? 0)) return;
    if (result.errors.length > 0) this.rowsClean = false;
    if (!this.rowsClean) return;
    this.rows.push(cells);
    this.rowEnds.push(end);
  }

  /**
   * Reads the complete records of `text` from `from` on, as far as it safely can.
   * @returns where the regular papaparse path must take over (`text.length` when all was
   * read), or -1 when the sink asked to stop
   */
  read(text: string, from: number): number {
    const { ctx, starts, lineEnds, windows } = this;
    const { delimiter, quoteChar, terminator, maxRecordChars } = ctx;
    const terminatorLength = terminator.length;
    starts.length = 0;
    lineEnds.length = 0;
    windows.length = 0;
    // 1. Find the records. A record with a quote ends at the first terminator where the
    // quotes balance; papaparse confirms that below.
    let pos = from;
    let quote = text.indexOf(quoteChar, pos);
    while (pos < text.length) {
      let end = text.indexOf(terminator, pos);
      if (end === -1) break;
      if (quote !== -1 && quote < pos) quote = text.indexOf(quoteChar, pos);
      const quoted = quote !== -1 && quote < end;
      if (quoted) {
        let count = 0;
        for (;;) {
          while (quote !== -1 && quote < end) {
            count++;
            quote = text.indexOf(quoteChar, quote + 1);
          }
          if (count % 2 === 0) break;
          end = text.indexOf(terminator, end + terminatorLength);
          if (end === -1) break;
        }
        if (end === -1) break;
      }
      const next = end + terminatorLength;
      if (next - pos > maxRecordChars) break;
      starts.push(pos);
      lineEnds.push(quoted ? -1 : end);
      if (quoted) windows.push(text.slice(pos, next));
      pos = next;
    }
    starts.push(pos);
    // 2. Parse all quoted records at once; keep those papaparse reads as exactly one clean
    // record each, up to the first that it does not.
    this.rows.length = 0;
    this.rowEnds.length = 0;
    this.rowsClean = true;
    if (windows.length > 0) this.quotedParser.parse(windows.join(''), 0, false);
    const { rows, rowEnds } = this;
    // 3. Settle the records in file order.
    let quotedIndex = 0;
    let joinedEnd = 0;
    for (let r = 0; r < starts.length - 1; r++) {
      const start = starts[r] as number;
      const next = starts[r + 1] as number;
      const lineEnd = lineEnds[r] as number;
      if (lineEnd >= 0) {
        if (
          !ctx.inPlace(text, start, lineEnd, next) &&
          !ctx.record(text.slice(start, lineEnd).split(delimiter), start, next)
        )
          return -1;
        continue;
      }
      joinedEnd += next - start;
      const cells = rows[quotedIndex];
      if (cells === undefined || rowEnds[quotedIndex] !== joinedEnd) return start;
      quotedIndex++;
      if (!ctx.record(cells, start, next)) return -1;
    }
    return starts[starts.length - 1] as number;
  }
}
