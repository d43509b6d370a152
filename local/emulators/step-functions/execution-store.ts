import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { readJsonLines } from '../json-lines.ts';
import type { HistoryEvent } from './history.ts';

type Json = ReturnType<typeof JSON.parse>;

/** Append descriptors kept open at most: well under a default limit of 1024 per process. */
const OPEN_FILES = 128;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** What DescribeExecution reports, kept as one small file per execution. */
export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: ExecutionStatus;
  readonly startDate: number;
  stopDate?: number;
  readonly input: string;
  output?: string;
  error?: string;
  cause?: string;
  redriveCount: number;
  redriveDate?: number;
}

/** A task that returned: on a redrive or resume it is answered from here, not run again. */
export interface TaskCheckpoint {
  readonly state: string;
  /** The task's effective input, as JSON. */
  readonly input: string;
  readonly output: Json;
}

/** Where executions' records, events and task checkpoints go. */
export interface ExecutionJournal {
  save(record: ExecutionRecord): void;
  appendHistory(record: ExecutionRecord, event: HistoryEvent): void;
  appendTask(record: ExecutionRecord, task: TaskCheckpoint): void;
  history(record: ExecutionRecord): HistoryEvent[];
  tasks(record: ExecutionRecord): TaskCheckpoint[];
  /** The execution's run ended: what it holds open for appending can go. */
  release(record: ExecutionRecord): void;
}

/** A journal for a throwaway stack: the same contract, gone with the process. */
export class MemoryJournal implements ExecutionJournal {
  private readonly events = new Map<string, HistoryEvent[]>();
  private readonly checkpoints = new Map<string, TaskCheckpoint[]>();

  save(): void {}

  release(): void {}

  appendHistory(record: ExecutionRecord, event: HistoryEvent): void {
    this.list(this.events, record).push(event);
  }

  appendTask(record: ExecutionRecord, task: TaskCheckpoint): void {
    this.list(this.checkpoints, record).push(task);
  }

  history(record: ExecutionRecord): HistoryEvent[] {
    return [...this.list(this.events, record)];
  }

  tasks(record: ExecutionRecord): TaskCheckpoint[] {
    return [...this.list(this.checkpoints, record)];
  }

  private list<T>(lists: Map<string, T[]>, record: ExecutionRecord): T[] {
    let list = lists.get(record.executionArn);
    if (!list) {
      list = [];
      lists.set(record.executionArn, list);
    }
    return list;
  }
}

/** A journal line: the record (at the start, a redrive and the close), an event, or a task. */
type JournalLine =
  | { readonly record: ExecutionRecord }
  | { readonly task: TaskCheckpoint }
  | HistoryEvent;

const isRecord = (line: JournalLine): line is { record: ExecutionRecord } => 'record' in line;
const isTask = (line: JournalLine): line is { task: TaskCheckpoint } => 'task' in line;
const isEvent = (line: JournalLine): line is HistoryEvent => !isRecord(line) && !isTask(line);

const JOURNAL = '.journal';
/** How much of a journal's end is read for its last record: a closed execution's is there. */
const TAIL_BYTES = 4096;
const NEWLINE = 0x0a;

/**
 * Executions on disk: one append-only journal per execution, `<machine>/<name>.journal`, in JSON
 * lines. The record comes first, then each event and finished task as it happens, and the record
 * again at a redrive and at the close, so the last line of a closed execution is its record. One
 * file written only by appends: creating a file cost the main thread more than all the writes
 * (an execution used to make four, with its record replaced through a temporary file). A kill -9
 * loses at most the line being written, which `readJsonLines` then drops.
 */
export class ExecutionStore implements ExecutionJournal {
  /**
   * Append descriptors of running executions, the most recently used last: opening a file per
   * event cost more than the write, and a bounded set keeps thousands of running executions
   * within the process's file limit.
   */
  private readonly open = new Map<string, number>();

  constructor(private readonly directory: string) {}

  /** Every record, for the state machines named. */
  load(stateMachineNames: readonly string[]): ExecutionRecord[] {
    return stateMachineNames.flatMap((machine) => {
      const folder = join(this.directory, machine);
      mkdirSync(folder, { recursive: true });
      let files = readdirSync(folder);
      if (files.some((file) => file.endsWith('.json'))) {
        migrateSeparateFiles(folder, files);
        files = readdirSync(folder);
      }
      return files
        .filter((file) => file.endsWith(JOURNAL))
        .flatMap((file) => {
          const record = lastRecord(join(folder, file));
          return record ? [{ ...record, redriveCount: record.redriveCount ?? 0 }] : [];
        });
    });
  }

  save(record: ExecutionRecord): void {
    this.append(record, { record });
  }

  appendHistory(record: ExecutionRecord, event: HistoryEvent): void {
    this.append(record, event);
  }

  appendTask(record: ExecutionRecord, task: TaskCheckpoint): void {
    this.append(record, { task });
  }

  release(record: ExecutionRecord): void {
    const path = this.path(record);
    const fd = this.open.get(path);
    if (fd !== undefined) closeSync(fd);
    this.open.delete(path);
  }

  history(record: ExecutionRecord): HistoryEvent[] {
    return readJsonLines<JournalLine>(this.path(record)).filter(isEvent);
  }

  tasks(record: ExecutionRecord): TaskCheckpoint[] {
    return readJsonLines<JournalLine>(this.path(record))
      .filter(isTask)
      .map((line) => line.task);
  }

  /** One write per line, so a kill -9 loses at most the line being written. */
  private append(record: ExecutionRecord, line: JournalLine): void {
    const path = this.path(record);
    let fd = this.open.get(path);
    this.open.delete(path);
    if (fd === undefined) {
      fd = openSync(path, 'a');
      const [oldest, oldestFd] = this.open.entries().next().value ?? [];
      if (this.open.size >= OPEN_FILES && oldest !== undefined && oldestFd !== undefined) {
        closeSync(oldestFd);
        this.open.delete(oldest);
      }
    }
    this.open.set(path, fd);
    writeSync(fd, `${JSON.stringify(line)}\n`);
  }

  private path(record: ExecutionRecord): string {
    const machine = record.stateMachineArn.split(':').pop() ?? 'unknown';
    return join(this.directory, machine, `${record.name}${JOURNAL}`);
  }
}

/**
 * A journal's latest record. A closed execution's is its last line, read from the end alone; one
 * that was running when its process stopped is read whole, and a line the crash cut short is
 * ended, so that the resumed run's first line is not joined to it.
 */
function lastRecord(path: string): ExecutionRecord | undefined {
  const fd = openSync(path, 'r+');
  try {
    const { size } = fstatSync(fd);
    const length = Math.min(size, TAIL_BYTES);
    const tail = Buffer.allocUnsafe(length);
    readSync(fd, tail, 0, length, size - length);
    if (length > 1 && tail[length - 1] === NEWLINE) {
      // A line is whole when it starts after a newline, or at the file's start.
      const start = tail.lastIndexOf(NEWLINE, length - 2) + 1;
      if (start > 0 || length === size) {
        try {
          const line = JSON.parse(tail.toString('utf8', start, length - 1)) as JournalLine;
          if (isRecord(line)) return line.record;
        } catch {
          // not a whole record: read the journal through
        }
      }
    } else if (size > 0 && tail[length - 1] !== NEWLINE) {
      writeSync(fd, '\n', size);
    }
  } finally {
    closeSync(fd);
  }
  return readJsonLines<JournalLine>(path).filter(isRecord).at(-1)?.record;
}

/**
 * Rewrites executions kept by an earlier sluice, as `<name>.json` (the record),
 * `<name>.history.jsonl` and `<name>.tasks.jsonl`, into a journal each. The journal is complete
 * before the old files go, so a crash in between leaves both, and the next start finishes.
 */
function migrateSeparateFiles(folder: string, files: readonly string[]): void {
  for (const file of files) {
    if (!file.endsWith('.json')) continue;
    const base = join(folder, file.slice(0, -'.json'.length));
    const old = [`${base}.json`, `${base}.history.jsonl`, `${base}.tasks.jsonl`];
    if (!existsSync(`${base}${JOURNAL}`)) {
      let record: ExecutionRecord;
      try {
        record = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as ExecutionRecord;
      } catch {
        continue; // a record a crash cut short, as before: not an execution
      }
      const lines: JournalLine[] = [
        ...readJsonLines<HistoryEvent>(`${base}.history.jsonl`),
        ...readJsonLines<TaskCheckpoint>(`${base}.tasks.jsonl`).map((task) => ({ task })),
        { record },
      ];
      const scratch = `${base}${JOURNAL}.tmp`;
      writeFileSync(scratch, lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
      renameSync(scratch, `${base}${JOURNAL}`);
    }
    for (const path of old) rmSync(path, { force: true });
  }
}
