import { RunLedger } from '#commons/run-ledger.ts';
import type { FileKind, ProcessFileInput } from '#commons/types.ts';
import {
  ExecutionLookup,
  type ExecutionRow,
  executionRowOf,
  groupVersions,
  type LedgerRecord,
  ROW_COUNTS,
  readLedger,
} from '../../cli/ops/ledger-view.ts';
import type { OpsTarget } from '../../cli/ops/target.ts';

/** One row of the console's list: `sluice executions`' row, with a CSV's row counts. */
export interface FileRow extends ExecutionRow {
  readonly rows: number | null;
  readonly invalidRows: number | null;
}

/** What the list can be narrowed by; every field is kept in the page's URL. */
export interface FileFilters {
  readonly statuses?: readonly string[];
  readonly dataset?: string;
  readonly prefix?: string;
  /** ISO times: the latest attempt stopped (or, still running, started) in [since, until). */
  readonly since?: string;
  readonly until?: string;
  readonly error?: string;
}

export interface DatasetSummary {
  readonly dataset: string;
  readonly files: number;
  readonly succeeded: number;
  /** Succeeded over the files that are done; null while none is. */
  readonly successRate: number | null;
  /** Over the CSVs that were read; null when the dataset has none. */
  readonly rows: number | null;
  readonly invalidRows: number | null;
}

export interface FilePage {
  readonly rows: readonly FileRow[];
  /** Rows that pass every filter, across pages. */
  readonly total: number;
  /** Per status, over the rows that pass every filter but the status one. */
  readonly counts: Readonly<Record<string, number>>;
  /** Per dataset, over the rows that pass every filter but the dataset one. */
  readonly datasets: readonly DatasetSummary[];
  /** Error names among the rows, for the filter's choices. */
  readonly errorNames: readonly string[];
}

const FINAL = new Set(['SUCCEEDED', 'QUARANTINED', 'FAILED', 'ABORTED', 'TIMED_OUT']);

/** Newest start first, then by key: ISO times and keys compare as plain strings. */
function newestFirst(a: FileRow, b: FileRow): number {
  const [x, y] = [a.startDate ?? '', b.startDate ?? ''];
  if (x !== y) return x < y ? 1 : -1;
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  return b.attempt - a.attempt;
}

const versionId = (row: Pick<FileRow, 'bucket' | 'key' | 'versionTag'>) =>
  `${row.bucket}\0${row.key}\0${row.versionTag}`;

function rowCounts(item: LedgerRecord): { rows: number | null; invalidRows: number | null } {
  const validation = (item.summary as { validation?: { rows?: number; invalidRows?: number } })
    ?.validation;
  return { rows: validation?.rows ?? null, invalidRows: validation?.invalidRows ?? null };
}

/**
 * Every file version of the ledger, in memory, as the list shows it. It is read whole once, then
 * kept current one key at a time as executions start and close, so a page never rescans the
 * table.
 */
export class FileIndex {
  private readonly rows = new Map<string, FileRow>();
  /** The rows newest first, sorted once per change rather than once per page. */
  private sorted: FileRow[] | undefined;
  private readonly ledger: RunLedger;
  private loading: Promise<void> | undefined;

  constructor(private readonly target: OpsTarget) {
    this.ledger = new RunLedger(target.dynamodb, target.names.table);
  }

  /** Reads the whole ledger, once (again after a failure); every query waits for it. */
  load(): Promise<void> {
    this.loading ??= (async () => {
      const items = await readLedger(this.target, undefined, ROW_COUNTS);
      for (const row of await this.rowsOf(items)) this.rows.set(versionId(row), row);
      this.sorted = undefined;
    })().catch((error) => {
      // The next query reads it again (a throttled emulator, say).
      this.loading = undefined;
      throw error;
    });
    return this.loading;
  }

  /** Forgets every row: the next query reads the whole ledger again. */
  forget(): void {
    this.loading = undefined;
    this.rows.clear();
    this.sorted = undefined;
  }

  /** Reads one key's items again; returns its rows as they now stand. */
  async refresh(bucket: string, key: string): Promise<FileRow[]> {
    await this.load();
    const rows = await this.rowsOf(await this.ledger.history(bucket, key));
    for (const row of rows) this.rows.set(versionId(row), row);
    this.sorted = undefined;
    return rows;
  }

  /**
   * An execution that started: a version the ledger does not hold yet, or a later attempt (a
   * replay) of one it does, or a redrive of its latest attempt, shows as PROCESSING from now.
   * Another execution of a version at that attempt already (a duplicate event) changes nothing.
   */
  async started(executionArn: string, input: string, startDate: Date): Promise<FileRow | null> {
    await this.load();
    let parsed: Partial<ProcessFileInput>;
    try {
      parsed = JSON.parse(input) as Partial<ProcessFileInput>;
    } catch {
      return null;
    }
    const file = parsed.file;
    if (!file?.key || !file.versionTag) return null;
    const attempt = parsed.attempt ?? 1;
    const known = this.rows.get(versionId(file));
    // A redrive runs the same execution again.
    const redriven = known?.executionArn === executionArn;
    if (known && known.attempt >= attempt && !redriven) return null;
    const row: FileRow = known
      ? {
          ...known,
          status: 'PROCESSING',
          executionArn,
          attempt: redriven ? known.attempt : attempt,
          attempts: redriven ? known.attempts : known.attempts + 1,
          startDate: startDate.toISOString(),
          stopDate: null,
          error: null,
          durationMs: null,
        }
      : {
          key: file.key,
          dataset: file.dataset,
          kind: file.kind as FileKind,
          status: 'PROCESSING',
          executionArn,
          startDate: startDate.toISOString(),
          stopDate: null,
          error: null,
          bucket: file.bucket,
          versionTag: file.versionTag,
          attempt,
          attempts: 1,
          duplicates: 0,
          size: file.size,
          durationMs: null,
          rows: null,
          invalidRows: null,
        };
    this.rows.set(versionId(row), row);
    this.sorted = undefined;
    return row;
  }

  async query(filters: FileFilters, offset = 0, limit = 100): Promise<FilePage> {
    await this.load();
    const since = filters.since ? Date.parse(filters.since) : undefined;
    const until = filters.until ? Date.parse(filters.until) : undefined;
    const statuses = filters.statuses?.length ? new Set(filters.statuses) : undefined;
    const passes = (row: FileRow, skip?: 'status' | 'dataset') => {
      const at = Date.parse(row.stopDate ?? row.startDate ?? '');
      return (
        (skip === 'status' || !statuses || statuses.has(row.status)) &&
        (skip === 'dataset' || !filters.dataset || row.dataset === filters.dataset) &&
        (!filters.prefix || row.key.startsWith(filters.prefix)) &&
        (!filters.error || row.error?.name === filters.error) &&
        (since === undefined || at >= since) &&
        (until === undefined || at < until)
      );
    };
    this.sorted ??= [...this.rows.values()].sort(newestFirst);
    const all = this.sorted;
    const counts: Record<string, number> = {};
    const datasets = new Map<string, { files: number; succeeded: number; done: number } & Rows>();
    const errorNames = new Set<string>();
    const matching: FileRow[] = [];
    for (const row of all) {
      if (row.error) errorNames.add(row.error.name);
      if (passes(row, 'status')) counts[row.status] = (counts[row.status] ?? 0) + 1;
      if (passes(row, 'dataset')) {
        const summary = datasets.get(row.dataset) ?? {
          files: 0,
          succeeded: 0,
          done: 0,
          rows: 0,
          invalidRows: 0,
          counted: false,
        };
        summary.files++;
        if (row.status === 'SUCCEEDED') summary.succeeded++;
        if (FINAL.has(row.status)) summary.done++;
        summary.counted ||= row.rows !== null;
        summary.rows += row.rows ?? 0;
        summary.invalidRows += row.invalidRows ?? 0;
        datasets.set(row.dataset, summary);
      }
      if (passes(row)) matching.push(row);
    }
    return {
      rows: matching.slice(offset, offset + limit),
      total: matching.length,
      counts,
      datasets: [...datasets.entries()]
        .map(([dataset, s]) => ({
          dataset,
          files: s.files,
          succeeded: s.succeeded,
          successRate: s.done === 0 ? null : s.succeeded / s.done,
          rows: s.counted ? s.rows : null,
          invalidRows: s.counted ? s.invalidRows : null,
        }))
        .sort((a, b) => a.dataset.localeCompare(b.dataset)),
      errorNames: [...errorNames].sort(),
    };
  }

  /** The versions whose latest attempt did not succeed, and is not still running. */
  async failures(): Promise<FileRow[]> {
    await this.load();
    return [...this.rows.values()].filter(
      (row) => row.status !== 'SUCCEEDED' && row.status !== 'PROCESSING',
    );
  }

  private async rowsOf(items: readonly LedgerRecord[]): Promise<FileRow[]> {
    const executions = new ExecutionLookup(this.target);
    return Promise.all(
      groupVersions(items).map(async (version) => ({
        ...(await executionRowOf(version, executions)),
        ...rowCounts(version.attempts.at(-1) as LedgerRecord),
      })),
    );
  }
}

interface Rows {
  rows: number;
  invalidRows: number;
  counted: boolean;
}
