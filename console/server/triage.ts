import type { FileRow } from './file-index.ts';

/** Failures that share an error name and a message pattern. */
export interface FailureGroup {
  readonly errorName: string;
  /** The message with what differs between files (numbers, quoted cells, keys) blanked out. */
  readonly pattern: string;
  readonly statuses: readonly string[];
  readonly datasets: readonly string[];
  /** Newest first. */
  readonly files: readonly Pick<
    FileRow,
    'key' | 'dataset' | 'status' | 'executionArn' | 'stopDate' | 'error'
  >[];
}

/**
 * A message reduced to what files with the same fault have in common: `5 of 32 rows are invalid;
 * the report is at validated/a/b/report.json` and `1 of 9 rows …` are one pattern.
 */
export function messagePattern(message: string): string {
  return (
    message
      .replace(/"[^"]*"|'[^']*'/g, '"…"')
      // The bucket's own keys may hold spaces: they run to the next punctuation.
      .replace(/\b(?:incoming|validated|variants|quarantine|schemas|batches)\/[^;,"]*/g, '<key>')
      .replace(/\b[\w.-]+(?:\/[\w.-]+)+\/?/g, '<key>')
      .replace(/\b\d+(?:\.\d+)?\b/g, 'N')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** Groups failed and quarantined versions by error name and message pattern, largest first. */
export function groupFailures(rows: readonly FileRow[]): FailureGroup[] {
  const groups = new Map<string, { errorName: string; pattern: string; rows: FileRow[] }>();
  for (const row of rows) {
    const errorName = row.error?.name ?? row.status;
    const pattern = messagePattern(row.error?.message ?? '');
    const id = `${errorName}\0${pattern}`;
    const group = groups.get(id) ?? { errorName, pattern, rows: [] };
    group.rows.push(row);
    groups.set(id, group);
  }
  return [...groups.values()]
    .map(({ errorName, pattern, rows: members }) => ({
      errorName,
      pattern,
      statuses: [...new Set(members.map((row) => row.status))].sort(),
      datasets: [...new Set(members.map((row) => row.dataset))].sort(),
      files: members
        .sort((a, b) => (b.stopDate ?? '').localeCompare(a.stopDate ?? ''))
        .map(({ key, dataset, status, executionArn, stopDate, error }) => ({
          key,
          dataset,
          status,
          executionArn,
          stopDate,
          error,
        })),
    }))
    .sort((a, b) => b.files.length - a.files.length || a.errorName.localeCompare(b.errorName));
}
