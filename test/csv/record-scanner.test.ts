import Papa from 'papaparse';
import { describe, expect, it } from 'vitest';
import { type CsvRow, readCsv } from '#commons/csv/read-csv.ts';
import { bytes } from './helpers.ts';
import { random } from './random.ts';

// readCsv cuts well-formed records itself (functions/commons/csv/record-scanner.ts) and hands
// anything irregular to papaparse. Either way each record must be what papaparse makes of the
// whole text, and the records' spans must tile the input exactly (valid.csv is built from them).

interface Read {
  rows: string[][];
  raw: string;
}

async function read(csv: string, chunkBytes?: number, dialect?: object): Promise<Read> {
  const rows: string[][] = [];
  let raw = '';
  await readCsv(
    bytes(csv, chunkBytes),
    {
      header(cells, text) {
        rows.push(cells);
        raw += text;
      },
      record(row: CsvRow) {
        rows.push(row.cells());
        raw += row.source.slice(row.start, row.end);
        return true;
      },
    },
    { dialect },
  );
  return { rows, raw };
}

function papaparse(csv: string, delimiter: string, newline: string, quoteChar = '"'): string[][] {
  const rows = Papa.parse<string[]>(csv, {
    delimiter,
    newline: newline as Papa.ParseConfig['newline'],
    quoteChar,
  }).data;
  // A text ending on a terminator gives papaparse an empty last row: not a record.
  if (csv.endsWith(newline)) rows.pop();
  return rows;
}

/** Well-formed CSV with every feature a field can have: quoting, escaped quotes, line breaks. */
function generate(seed: number, rows: number, delimiter: string, newline: string): string {
  const next = random(seed);
  const pieces = ['a', 'bc', '12', 'é', '😀', ' ', delimiter, '"', '\n', '\r\n', '\r', ''];
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const width = next() < 0.05 ? Math.floor(next() * 6) : 4;
    const cells: string[] = [];
    for (let c = 0; c < width; c++) {
      let cell = '';
      const length = Math.floor(next() * 4);
      for (let i = 0; i < length; i++) cell += pieces[Math.floor(next() * pieces.length)];
      const special = /["\r\n]/.test(cell) || cell.includes(delimiter);
      cells.push(special || next() < 0.1 ? `"${cell.replaceAll('"', '""')}"` : cell);
    }
    lines.push(cells.join(delimiter));
  }
  return lines.join(newline) + (next() < 0.5 ? newline : '');
}

describe('record scanner', () => {
  it.each([
    [',', '\n'],
    [',', '\r\n'],
    [';', '\r'],
    ['\t', '\n'],
    ['|', '\r\n'],
  ])('reads delimiter %j, terminator %j exactly as papaparse does', async (delimiter, newline) => {
    // ~150 KB, so that records cross the 64 KiB slices and stream chunks of many sizes.
    const csv = `h1${delimiter}h2${delimiter}h3${delimiter}h4${newline}${generate(delimiter.charCodeAt(0) + newline.length, 6000, delimiter, newline)}`;
    const expected = papaparse(csv, delimiter, newline);
    for (const chunk of [undefined, 61, 4099]) {
      const { rows, raw } = await read(csv, chunk, { delimiter, lineTerminator: newline });
      expect(rows).toEqual(expected);
      expect(raw).toBe(csv);
    }
  });

  it('leaves irregular records to papaparse and agrees with it on them', async () => {
    const body = generate(7, 3000, ',', '\n');
    const irregular = [
      'a "quote" inside,x,y,z',
      '"closed"then text,x,y,z',
      'lone\rCR,x,y,z',
      '"a quote left open,x,y,z',
    ];
    for (const line of irregular) {
      const csv = `h1,h2,h3,h4\n${body}\n${line}\n${body}\n`;
      const { rows, raw } = await read(csv, 4099, { delimiter: ',', lineTerminator: '\n' });
      expect(rows, line).toEqual(papaparse(csv, ',', '\n'));
      expect(raw).toBe(csv);
    }
  });

  it('reads a single-quote quote character', async () => {
    const csv = `h1;h2\n'a;b';'it''s'\nc;d\n`;
    const { rows } = await read(csv, undefined, { delimiter: ';', quoteChar: "'" });
    expect(rows).toEqual([
      ['h1', 'h2'],
      ['a;b', "it's"],
      ['c', 'd'],
    ]);
  });
});
