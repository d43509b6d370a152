import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
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

/**
 * Executions on disk, one folder per state machine: `<name>.json` (the record, replaced whole
 * on each change), `<name>.history.jsonl` and `<name>.tasks.jsonl` (appended per event and per
 * finished task). Appending keeps a kill -9 from losing more than the event being written,
 * which `readJsonLines` then drops.
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
      return readdirSync(folder)
        .filter((file) => file.endsWith('.json'))
        .flatMap((file) => {
          try {
            const record = JSON.parse(readFileSync(join(folder, file), 'utf8')) as ExecutionRecord;
            return [{ ...record, redriveCount: record.redriveCount ?? 0 }];
          } catch {
            return [];
          }
        });
    });
  }

  save(record: ExecutionRecord): void {
    const path = this.path(record, '.json');
    writeFileSync(`${path}.tmp`, JSON.stringify(record));
    renameSync(`${path}.tmp`, path);
  }

  appendHistory(record: ExecutionRecord, event: HistoryEvent): void {
    this.append(this.path(record, '.history.jsonl'), event);
  }

  appendTask(record: ExecutionRecord, task: TaskCheckpoint): void {
    this.append(this.path(record, '.tasks.jsonl'), task);
  }

  release(record: ExecutionRecord): void {
    for (const extension of ['.history.jsonl', '.tasks.jsonl']) {
      const path = this.path(record, extension);
      const fd = this.open.get(path);
      if (fd !== undefined) closeSync(fd);
      this.open.delete(path);
    }
  }

  /** One write per line, so a kill -9 loses at most the line being written. */
  private append(path: string, value: unknown): void {
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
    writeSync(fd, `${JSON.stringify(value)}\n`);
  }

  history(record: ExecutionRecord): HistoryEvent[] {
    return readJsonLines(this.path(record, '.history.jsonl'));
  }

  tasks(record: ExecutionRecord): TaskCheckpoint[] {
    return readJsonLines(this.path(record, '.tasks.jsonl'));
  }

  private path(record: ExecutionRecord, extension: string): string {
    const machine = record.stateMachineArn.split(':').pop() ?? 'unknown';
    return join(this.directory, machine, `${record.name}${extension}`);
  }
}
