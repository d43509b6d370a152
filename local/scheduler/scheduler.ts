import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { scheduledBatchId } from '#commons/batch.ts';
import { type BatchSchedule, nextRun, previousRun } from '#commons/schedules.ts';

/** What the scheduler remembers of one schedule, in its state file. */
export interface ScheduleState {
  /** When this data dir first saw the schedule: nothing before it is ever fired. */
  readonly since: string;
  /** The latest slot whose fire succeeded. */
  readonly lastRun?: string;
  readonly lastBatchId?: string;
  /** The latest failed fire; cleared by the next one that succeeds. */
  readonly lastError?: {
    readonly scheduledTime: string;
    readonly at: string;
    readonly name: string;
    readonly message: string;
  };
}

/** The state file: schedule name → its state. Entries of schedules no longer declared stay. */
export type SchedulerState = Record<string, ScheduleState>;

export interface LocalSchedulerOptions {
  readonly schedules: readonly BatchSchedule[];
  /** A JSON file, rewritten atomically after every change. */
  readonly stateFile: string;
  /** Starts the batch of one slot; a rejection is recorded as the schedule's lastError. */
  readonly fire: (schedule: BatchSchedule, scheduledTime: Date) => Promise<void>;
  /**
   * The clock (tests).
   * @default - the system clock
   */
  readonly now?: () => Date;
  /**
   * Where the scheduler says what it fired, and what failed.
   * @default process.stderr
   */
  readonly log?: { write(text: string): unknown };
}

/** setTimeout's ceiling (about 24.8 days): a later slot is reached by re-arming. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const iso = (date: Date) => date.toISOString().replace(/\.000Z$/, 'Z');

/**
 * The offline stand-in for EventBridge Scheduler in `sluice up`: one timer per schedule, and a
 * state file in the data dir so that a restart knows what already ran.
 *
 * A schedule it has never seen starts from now: no backfill. After downtime it fires once, for
 * the most recent slot it missed, never once per missed slot (a batch reprocesses a whole
 * prefix, so the latest one covers the others). It fires at the slot itself: Scheduler's
 * flexible window only spreads load on AWS, and a local run has none to spread.
 */
export class LocalScheduler {
  private readonly now: () => Date;
  private readonly log: { write(text: string): unknown };
  private state: SchedulerState = {};
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: LocalSchedulerOptions) {
    this.now = options.now ?? (() => new Date());
    this.log = options.log ?? process.stderr;
  }

  /**
   * Reads the state, fires each schedule's most recent missed slot (at most one each), then
   * arms the timers. Resolves once those catch-up fires have ended, failed or not.
   */
  async start(): Promise<void> {
    // Nothing declared: leave the data dir as it is (`sluice run` has no schedules).
    if (this.options.schedules.length === 0) return;
    this.state = this.readState();
    const now = this.now();
    const catchUp: BatchSchedule[] = [];
    for (const schedule of this.options.schedules) {
      const known = this.state[schedule.name];
      if (!known) {
        this.state[schedule.name] = { since: now.toISOString() };
      } else if (this.isDue(schedule, previousRun(schedule, now))) {
        catchUp.push(schedule);
      }
    }
    this.saveState();
    const fires = catchUp.map((schedule) =>
      this.track(this.run(schedule, previousRun(schedule, now) as Date)),
    );
    for (const schedule of this.options.schedules) this.arm(schedule);
    await Promise.all(fires);
  }

  /** Stops every timer and waits for fires under way (idempotent). */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all(this.inFlight);
  }

  /** A slot later than the schedule's last run (or, never run, than when it was first seen). */
  private isDue(schedule: BatchSchedule, slot: Date | undefined): slot is Date {
    const known = this.state[schedule.name];
    if (!slot || !known) return false;
    return slot.getTime() > Date.parse(known.lastRun ?? known.since);
  }

  private arm(schedule: BatchSchedule, due: Date = nextRun(schedule, this.now())): void {
    if (this.closed) return;
    const delay = Math.min(Math.max(due.getTime() - this.now().getTime(), 0), MAX_TIMEOUT_MS);
    const timer = setTimeout(() => this.wake(schedule, due), delay);
    // The service's servers keep the process alive; a timer alone should not.
    timer.unref();
    this.timers.set(schedule.name, timer);
  }

  private wake(schedule: BatchSchedule, due: Date): void {
    if (this.closed) return;
    const now = this.now();
    // Woken by the setTimeout cap, or a little early: wait on for the same slot.
    if (now < due) {
      this.arm(schedule, due);
      return;
    }
    // After a sleep (a laptop lid) the latest slot reached stands for every one missed.
    const slot = previousRun(schedule, now) ?? due;
    if (this.isDue(schedule, slot)) this.track(this.run(schedule, slot));
    this.arm(schedule);
  }

  private track(run: Promise<void>): Promise<void> {
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** Fires one slot and records how it went; never rejects. */
  private async run(schedule: BatchSchedule, slot: Date): Promise<void> {
    const batchId = scheduledBatchId(schedule.name, slot);
    try {
      await this.options.fire(schedule, slot);
      const known = this.state[schedule.name] ?? { since: slot.toISOString() };
      // A slower, earlier fire that ends after a later one must not take lastRun back.
      if (known.lastRun === undefined || Date.parse(known.lastRun) < slot.getTime()) {
        const { lastError: _cleared, ...rest } = known;
        this.state[schedule.name] = { ...rest, lastRun: slot.toISOString(), lastBatchId: batchId };
      }
      this.saveState();
      this.log.write(`sluice: schedule ${schedule.name}: started batch ${batchId}\n`);
    } catch (error) {
      const { name, message } =
        error instanceof Error ? error : { name: 'Error', message: String(error) };
      const known = this.state[schedule.name] ?? { since: slot.toISOString() };
      this.state[schedule.name] = {
        ...known,
        lastError: {
          scheduledTime: slot.toISOString(),
          at: this.now().toISOString(),
          name,
          message,
        },
      };
      this.saveState();
      this.log.write(
        `sluice: schedule ${schedule.name}: the batch of ${iso(slot)} did not start: ${name}: ${message}\n`,
      );
    }
  }

  private readState(): SchedulerState {
    let text: string;
    try {
      text = readFileSync(this.options.stateFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        return value as SchedulerState;
      }
    } catch {
      // Reported below, like any other unreadable state.
    }
    // Starting over means no backfill, which is the safe side of losing the state.
    this.log.write(
      `sluice: ${this.options.stateFile} is not a scheduler state; every schedule starts from now\n`,
    );
    return {};
  }

  /** Temp file then rename, so a crash mid-write leaves the old state, never half of one. */
  private saveState(): void {
    const { stateFile } = this.options;
    try {
      mkdirSync(dirname(stateFile), { recursive: true });
      const temp = `${stateFile}.${process.pid}.tmp`;
      writeFileSync(temp, `${JSON.stringify(this.state, null, 2)}\n`);
      renameSync(temp, stateFile);
    } catch (error) {
      this.log.write(
        `sluice: cannot write ${stateFile}: ${(error as Error).message}; a restart may fire a slot again\n`,
      );
    }
  }
}
