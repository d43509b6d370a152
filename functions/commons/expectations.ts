import { previousRun } from './schedules.ts';

/** When a dataset's files are due: a Scheduler-style cron or rate, and how late is still fine. */
export interface ArrivalExpectation {
  readonly expression: string;
  readonly timeZone: string;
  readonly graceMinutes: number;
}

/** The row count a dataset's CSVs should have. */
export interface RowsExpectation {
  readonly min?: number;
  readonly max?: number;
  /** Most a file may differ from the mean of the `trailing` files before it, in percent. */
  readonly maxChangePercent?: number;
  readonly trailing: number;
}

/** A dataset's declared expectations (`schedules.json`, an object in `datasets`). */
export interface DatasetExpectation {
  readonly dataset: string;
  readonly arrival?: ArrivalExpectation;
  readonly rows?: RowsExpectation;
}

/**
 * The latest due time whose grace period is over at `now`, so that a feed missing since then is
 * late; undefined before the first one.
 */
export function dueSlot(arrival: ArrivalExpectation, now: Date): Date | undefined {
  return previousRun(arrival, new Date(now.getTime() - arrival.graceMinutes * 60_000));
}

/**
 * The slot a feed missed: due at a time whose grace is over, with no file received since.
 * @param lastReceivedAt the newest file of the dataset, if any
 */
export function missedSlot(
  arrival: ArrivalExpectation,
  now: Date,
  lastReceivedAt: Date | undefined,
): Date | undefined {
  const slot = dueSlot(arrival, now);
  if (slot === undefined) return undefined;
  return lastReceivedAt === undefined || lastReceivedAt < slot ? slot : undefined;
}

/**
 * Why a file's row count is off, or undefined when it is fine: outside `min`..`max`, or more
 * than `maxChangePercent` away from the mean of the files before it (newest first; only the first
 * `trailing` count, and a file with none before it has nothing to drift from).
 */
export function rowDrift(
  rows: RowsExpectation,
  count: number,
  before: readonly number[],
): string | undefined {
  if (rows.min !== undefined && count < rows.min) {
    return `${count} rows, fewer than the ${rows.min} expected`;
  }
  if (rows.max !== undefined && count > rows.max) {
    return `${count} rows, more than the ${rows.max} expected`;
  }
  const trailing = before.slice(0, rows.trailing);
  if (rows.maxChangePercent === undefined || trailing.length === 0) return undefined;
  const mean = trailing.reduce((sum, n) => sum + n, 0) / trailing.length;
  const change =
    mean === 0 ? (count === 0 ? 0 : Number.POSITIVE_INFINITY) : ((count - mean) / mean) * 100;
  if (Math.abs(change) <= rows.maxChangePercent) return undefined;
  const shown = Number.isFinite(change)
    ? `${change > 0 ? '+' : ''}${change.toFixed(0)}%`
    : 'from 0';
  return `${count} rows, ${shown} against the mean of the last ${trailing.length} (${mean.toFixed(1)}); at most ${rows.maxChangePercent}% expected`;
}

/** A validated CSV as the row check sees it. */
export interface CountedFile {
  /** When it reached its final status: the ISO time of its `statusAt`. */
  readonly at: string;
  readonly rows: number;
}

/** A file whose row count is off, and why. */
export interface RowCountFinding<T extends CountedFile> {
  readonly file: T;
  readonly reason: string;
}

/**
 * The files from `since` on whose row count is off, oldest first. Each is judged against the
 * `trailing` files before it, of either status, so `files` (in any order, statuses mixed) must
 * hold every file from `since` on plus, per status, the `trailing` newest before `since`: merged,
 * those are the oldest file's own trailing files. Files before `since` are only that baseline.
 */
export function rowCountFindings<T extends CountedFile>(
  rows: RowsExpectation,
  files: readonly T[],
  since: string,
): RowCountFinding<T>[] {
  const newestFirst = [...files].sort((a, b) => b.at.localeCompare(a.at));
  const findings: RowCountFinding<T>[] = [];
  for (const [index, file] of newestFirst.entries()) {
    // ISO times of one format sort as strings, as the index's sort key does.
    if (file.at < since) break;
    const before = newestFirst.slice(index + 1, index + 1 + rows.trailing).map((f) => f.rows);
    const reason = rowDrift(rows, file.rows, before);
    if (reason) findings.push({ file, reason });
  }
  return findings.reverse();
}
