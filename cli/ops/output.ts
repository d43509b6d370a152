import { Option } from 'commander';

/** `-o` on every ops command, as the AWS CLI's `--output`. */
export type OutputFormat = 'table' | 'json' | 'jsonl';

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'jsonl'];

/** Where a command writes: process.stdout and process.stderr, or a test's buffers. */
export interface TextSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The `-o, --output` option; without it, the format follows {@link defaultFormat}. */
export function outputOption(): Option {
  return new Option(
    '-o, --output <format>',
    'table, json (one document) or jsonl (one JSON value a line); default: table on a terminal, json otherwise',
  ).choices(OUTPUT_FORMATS);
}

/** A person at a terminal reads a table; a pipe or a file gets JSON, which scripts can rely on. */
export function defaultFormat(stdout: TextSink): OutputFormat {
  return stdout.isTTY ? 'table' : 'json';
}

/** One table row, with lines printed under it (an error message, say) that take no column. */
export interface TableRow {
  readonly cells: readonly string[];
  readonly details?: readonly string[];
}

/** Column widths that fit the header and every row. */
export function columnWidths(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): number[] {
  return header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
}

/** One line of cells padded to `widths`, two spaces apart, with no trailing blanks. */
export function formatRow(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => cell.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
}

/**
 * The one table renderer of the CLI: left-aligned columns sized to their widest cell, and each
 * row's details indented beneath it.
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[] | TableRow)[],
): string {
  const normalized = rows.map((row): TableRow => ('cells' in row ? row : { cells: row }));
  const widths = columnWidths(
    header,
    normalized.map((row) => row.cells),
  );
  const lines = [formatRow(header, widths)];
  for (const row of normalized) {
    lines.push(formatRow(row.cells, widths));
    for (const detail of row.details ?? []) lines.push(`    ${detail}`);
  }
  return lines.join('\n');
}

/**
 * Writes a command's result: `json` as one indented document, `jsonl` one value a line (each item
 * of an array, or the value itself), `table` through the command's own renderer.
 */
export function writeResult<T>(
  stdout: TextSink,
  format: OutputFormat,
  value: T,
  table: (value: T) => string,
): void {
  if (format === 'json') {
    stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  } else if (format === 'jsonl') {
    for (const item of Array.isArray(value) ? value : [value])
      stdout.write(`${JSON.stringify(item)}\n`);
  } else {
    const text = table(value);
    if (text !== '') stdout.write(`${text}\n`);
  }
}

/** `2026-01-02T03:04:05Z`: seconds are enough to read, and the full time is in the JSON. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** `850 ms`, `12.3 s`, `4m 05s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

/** `512 B`, `3.4 KB`, `12.0 MB`, in powers of 1024. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The lines under a row of redrive or replay: the error it had, and the one it has now. */
export function errorDetails(
  was: { readonly name: string; readonly message: string } | null,
  now: { readonly name: string; readonly message: string } | null | undefined,
): string[] {
  return [
    ...(was ? [`was: ${was.name}: ${was.message}`] : []),
    ...(now ? [`now: ${now.name}: ${now.message}`] : []),
  ];
}
