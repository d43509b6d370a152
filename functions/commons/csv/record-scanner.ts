import type { ResolvedDialect } from './read-csv.ts';

/**
 * One record, as ranges of text rather than a string per cell: cell `k` is
 * `texts[k].slice(starts[k], ends[k])`. Slicing the 8 million cells of a 1M-row file cost ~0.18 s,
 * and most checks (integers, numbers, dates, enums, emails) read the range in place. The object is
 * reused for every record: it is valid only until the sink returns.
 */
export class CsvRow {
  /** The text the record lies in, and its span there, terminator included. */
  source = '';
  start = 0;
  end = 0;
  /** The bytes of `source`, one per character, when it is all ASCII (the usual CSV). */
  sourceBytes: Uint8Array | undefined;
  count = 0;
  /** Per cell, the string holding it: `source`, or an unescaped copy of a quoted cell. */
  readonly texts: string[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  malformedQuotes = false;

  cell(k: number): string {
    return (this.texts[k] as string).slice(this.starts[k], this.ends[k]);
  }

  /** Cell `k`, or undefined past the end of a short row. */
  at(k: number): string | undefined {
    return k < this.count ? this.cell(k) : undefined;
  }

  cells(): string[] {
    const cells = new Array<string>(this.count);
    for (let k = 0; k < this.count; k++) cells[k] = this.cell(k);
    return cells;
  }

  /** Takes the cells papaparse made for the record `source[start, end)` (`sourceBytes` is left as set). */
  fill(cells: string[], source: string, start: number, end: number, malformed: boolean): void {
    this.source = source;
    this.start = start;
    this.end = end;
    this.count = cells.length;
    this.malformedQuotes = malformed;
    for (let k = 0; k < cells.length; k++) {
      const cell = cells[k] as string;
      this.texts[k] = cell;
      this.starts[k] = 0;
      this.ends[k] = cell.length;
    }
  }
}

/** The offset of `char` in `text` from `from`, or the text's length when there is none. */
function find(text: string, char: string, from: number): number {
  const at = text.indexOf(char, from);
  return at < 0 ? text.length : at;
}

/** Where a scan stopped, and why. */
export interface ScanStop {
  /** Offset of the first record not settled (the end of the text when all were). */
  readonly cursor: number;
  /** True when the record at `cursor` is irregular (papaparse's), false when it needs more input. */
  readonly irregular: boolean;
}

/**
 * Cuts the well-formed RFC 4180 records of a decoded slice (plain and quoted fields, escaped
 * quotes, quoted line breaks) into `CsvRow`s: reading 1M rows takes ~0.33 s this way, ~0.46 s
 * through papaparse's rows of strings. Anything else (a quote inside a plain field, text after a closing quote, a CR or LF
 * that is not the line terminator) stops the scan at the start of that record, and papaparse
 * parses it from there with its own recovery rules. On well-formed records the two agree cell for
 * cell (test/csv/record-scanner.test.ts checks it against papaparse).
 */
export class RecordScanner {
  private readonly delimiter: number;
  private readonly delimiterChar: string;
  private readonly quote: number;
  private readonly quoteChar: string;
  private readonly crlf: boolean;
  private readonly terminator: number;

  /** Undefined when the dialect is one only papaparse reads (a multi-character delimiter or quote). */
  static for(dialect: ResolvedDialect): RecordScanner | undefined {
    return dialect.delimiter.length === 1 && dialect.quoteChar.length === 1
      ? new RecordScanner(dialect)
      : undefined;
  }

  private constructor(dialect: ResolvedDialect) {
    this.delimiter = dialect.delimiter.charCodeAt(0);
    this.delimiterChar = dialect.delimiter;
    this.quote = dialect.quoteChar.charCodeAt(0);
    this.quoteChar = dialect.quoteChar;
    this.crlf = dialect.lineTerminator === '\r\n';
    this.terminator = dialect.lineTerminator === '\r' ? 13 : 10;
  }

  /**
   * Hands `onRecord` each settled record of `text` from `from`, in `row`, until the text ends, a
   * record is incomplete (more input may finish it; with `last` none will, so it is irregular),
   * a record is irregular, or `onRecord` returns false.
   */
  scan(
    text: string,
    from: number,
    last: boolean,
    row: CsvRow,
    onRecord: (row: CsvRow) => boolean,
  ): ScanStop {
    const { delimiter, delimiterChar, quote, quoteChar, crlf, terminator } = this;
    const { texts, starts, ends } = row;
    const length = text.length;
    row.source = text;
    row.malformedQuotes = false;
    let nextDelimiter = -1;
    let nextLf = -1;
    let nextCr = -1;
    let nextQuote = -1;
    let i = from;
    while (i < length) {
      const start = i;
      // The usual record holds no quote and no line break but its terminator: its fields are cut
      // on the delimiter alone. Anything else takes the field-by-field loop below.
      if (nextLf < i) nextLf = find(text, '\n', i);
      if (nextCr < i) nextCr = find(text, '\r', i);
      if (nextQuote < i) nextQuote = find(text, quoteChar, i);
      let lineEnd = -1;
      if (crlf) {
        if (nextLf < length && nextLf === nextCr + 1) lineEnd = nextCr;
      } else if (terminator === 10) {
        if (nextLf < length && nextLf < nextCr) lineEnd = nextLf;
      } else if (nextCr < length && nextCr < nextLf) lineEnd = nextCr;
      if (lineEnd >= 0 && nextQuote > lineEnd) {
        let k = 0;
        for (;;) {
          if (nextDelimiter < i) nextDelimiter = find(text, delimiterChar, i);
          const j = nextDelimiter < lineEnd ? nextDelimiter : lineEnd;
          texts[k] = text;
          starts[k] = i;
          ends[k++] = j;
          if (j === lineEnd) break;
          i = j + 1;
        }
        i = lineEnd + (crlf ? 2 : 1);
        row.start = start;
        row.end = i;
        row.count = k;
        if (!onRecord(row)) return { cursor: i, irregular: false };
        continue;
      }
      let k = 0;
      for (; ; k++) {
        if (text.charCodeAt(i) === quote) {
          let close = text.indexOf(quoteChar, i + 1);
          // A closing quote whose next character (maybe a second quote) is unread is not known yet.
          if (close < 0 || (close + 1 === length && !last))
            return { cursor: start, irregular: last };
          if (text.charCodeAt(close + 1) !== quote) {
            texts[k] = text;
            starts[k] = i + 1;
            ends[k] = close;
          } else {
            let value = '';
            let piece = i + 1;
            while (text.charCodeAt(close + 1) === quote) {
              value += text.slice(piece, close + 1);
              piece = close + 2;
              close = text.indexOf(quoteChar, piece);
              if (close < 0 || (close + 1 === length && !last))
                return { cursor: start, irregular: last };
            }
            value += text.slice(piece, close);
            texts[k] = value;
            starts[k] = 0;
            ends[k] = value.length;
          }
          i = close + 1;
        } else {
          // A plain field ends at the nearest delimiter, CR, LF or quote; each is found by indexOf
          // (memchr speed) and remembered until the cursor passes it, not char by char.
          if (nextDelimiter < i) nextDelimiter = find(text, delimiterChar, i);
          if (nextLf < i) nextLf = find(text, '\n', i);
          if (nextCr < i) nextCr = find(text, '\r', i);
          if (nextQuote < i) nextQuote = find(text, quoteChar, i);
          const j = Math.min(nextDelimiter, nextLf, nextCr, nextQuote);
          if (j === nextQuote && j < length) return { cursor: start, irregular: true };
          texts[k] = text;
          starts[k] = i;
          ends[k] = j;
          i = j;
        }
        if (i === length) {
          if (!last) return { cursor: start, irregular: false };
          break;
        }
        const code = text.charCodeAt(i);
        if (code === delimiter) {
          i++;
          continue;
        }
        if (crlf) {
          if (code === 13 && i + 1 === length && !last) return { cursor: start, irregular: false };
          if (code !== 13 || text.charCodeAt(i + 1) !== 10)
            return { cursor: start, irregular: true };
          i += 2;
        } else {
          if (code !== terminator) return { cursor: start, irregular: true };
          i++;
        }
        break;
      }
      row.start = start;
      row.end = i;
      row.count = k + 1;
      if (!onRecord(row)) return { cursor: i, irregular: false };
    }
    return { cursor: i, irregular: false };
  }
}
