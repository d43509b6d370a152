import { readFileSync } from 'node:fs';
import { Cron } from 'croner';
import { z } from 'zod';
import { BATCH_MODES, type BatchMode, DEFAULT_BATCH_CONCURRENCY } from './batch.ts';
import { INCOMING_PREFIX } from './constants.ts';
import type { DatasetExpectation } from './expectations.ts';

/**
 * One batch schedule of `schedules.json`, with every default applied. EventBridge Scheduler
 * starts the ProcessBatch state machine with it on AWS, and `sluice up` offline.
 */
export interface BatchSchedule {
  /** Unique, `^[A-Za-z0-9_-]{1,64}$`: the batch ids and the ledger partition carry it. */
  readonly name: string;
  /** One of the declaration's `datasets`. */
  readonly dataset: string;
  /** EventBridge Scheduler's `cron(min hour day-of-month month day-of-week year)` or `rate(N unit)`. */
  readonly expression: string;
  /** The IANA zone a cron expression is read in; rate expressions ignore it. */
  readonly timeZone: string;
  /** What the batch reprocesses: `incoming/<dataset>/` or a prefix under it. */
  readonly prefix: string;
  readonly mode: BatchMode;
  /** Scheduler's flexible time window; 0 is off. The offline scheduler fires on the slot. */
  readonly flexibleWindowMinutes: number;
  /** Children that may run at once. */
  readonly maxConcurrency: number;
}

/** A declaration that cannot be used: the message names the file, the schedule and the field. */
export class InvalidSchedules extends Error {
  override readonly name = 'InvalidSchedules';
}

/** The declaration's file name, at the project root. */
export const SCHEDULES_FILE = 'schedules.json';

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Scheduler's FlexibleTimeWindow allows 1 to 1440 minutes; 0 stands for its mode OFF. */
const MAX_FLEXIBLE_WINDOW_MINUTES = 1440;
/** Distributed Map's own ceiling on MaxConcurrency. */
const MAX_CONCURRENCY = 10_000;

const datasetName = z
  .string()
  .regex(/^[^/\s]+$/, 'a dataset is a folder name under incoming/: no slash or white space');

/** A dataset with expectations: when its files are due, and how many rows they have. */
const datasetSchema = z.strictObject({
  name: datasetName,
  arrival: z
    .strictObject({
      expression: z.string().min(1),
      timeZone: z.string().min(1).default('UTC'),
      graceMinutes: z.number().int().min(0).default(60),
    })
    .optional(),
  rows: z
    .strictObject({
      min: z.number().int().min(0).optional(),
      max: z.number().int().min(0).optional(),
      maxChangePercent: z.number().positive().optional(),
      trailing: z.number().int().min(1).max(100).default(7),
    })
    .refine(
      (rows) =>
        rows.min !== undefined || rows.max !== undefined || rows.maxChangePercent !== undefined,
      'give min, max or maxChangePercent',
    )
    .refine(
      (rows) => rows.min === undefined || rows.max === undefined || rows.min <= rows.max,
      'min is above max',
    )
    .optional(),
});

const declarationSchema = z.strictObject({
  $schema: z.string().optional(),
  datasets: z.array(z.union([datasetName, datasetSchema])),
  schedules: z.array(z.unknown()).default([]),
});

/** What `schedules.json` declares. */
export interface Declaration {
  readonly schedules: BatchSchedule[];
  /** The datasets that declare an arrival or a row count, in declaration order. */
  readonly expectations: DatasetExpectation[];
}

const scheduleSchema = z.strictObject({
  name: z.string().regex(NAME_PATTERN, 'a name is 1 to 64 letters, digits, - or _'),
  dataset: z.string().min(1),
  expression: z.string().min(1),
  timeZone: z.string().min(1).default('UTC'),
  prefix: z.string().min(1).optional(),
  mode: z.enum(BATCH_MODES as [BatchMode, ...BatchMode[]]).default('new'),
  flexibleWindowMinutes: z.number().int().min(0).max(MAX_FLEXIBLE_WINDOW_MINUTES).default(0),
  maxConcurrency: z.number().int().min(1).max(MAX_CONCURRENCY).default(DEFAULT_BATCH_CONCURRENCY),
});

/**
 * Validates a declaration: `{ "datasets": [...], "schedules": [{ name, dataset, expression,
 * timeZone?, prefix?, mode?, flexibleWindowMinutes?, maxConcurrency? }] }`.
 * @param source names the declaration in messages, e.g. its path.
 * @throws InvalidSchedules naming the first bad schedule and field, e.g.
 *   `schedules.json: schedule 'orders-nightly': expression: ...`
 */
export function parseSchedules(value: unknown, source: string): BatchSchedule[] {
  return parseDeclaration(value, source).schedules;
}

/**
 * Validates a declaration, its datasets' expectations as well as its schedules.
 * @throws InvalidSchedules naming the first bad dataset or schedule and field, e.g.
 *   `schedules.json: dataset 'orders': arrival.expression: ...`
 */
export function parseDeclaration(value: unknown, source: string): Declaration {
  function fail(where: string, message: string): never {
    throw new InvalidSchedules(`${source}: ${where}${message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('', 'expected a JSON object { "datasets": [...], "schedules": [...] }');
  }
  const declaration = declarationSchema.safeParse(value);
  if (!declaration.success) {
    const issue = declaration.error.issues[0] as z.core.$ZodIssue;
    fail(fieldOf(issue.path), issue.message);
  }
  const { datasets: declared, schedules: entries } = declaration.data;
  const datasets = declared.map((dataset) =>
    typeof dataset === 'string' ? dataset : dataset.name,
  );
  const repeated = datasets.find((dataset, index) => datasets.indexOf(dataset) !== index);
  if (repeated !== undefined) fail('datasets: ', `'${repeated}' is listed twice`);
  const expectations: DatasetExpectation[] = [];
  for (const dataset of declared) {
    if (typeof dataset === 'string' || (!dataset.arrival && !dataset.rows)) continue;
    const { arrival } = dataset;
    if (arrival) {
      const label = `dataset '${dataset.name}': arrival.`;
      const timeZoneError = checkTimeZone(arrival.timeZone);
      if (timeZoneError) fail(label, `timeZone: ${timeZoneError}`);
      const expressionError = checkExpression(arrival.expression, arrival.timeZone);
      if (expressionError) fail(label, `expression: ${expressionError}`);
    }
    expectations.push({
      dataset: dataset.name,
      ...(arrival ? { arrival } : {}),
      ...(dataset.rows ? { rows: dataset.rows } : {}),
    });
  }

  const schedules: BatchSchedule[] = [];
  const seen = new Map<string, number>();
  for (const [index, entry] of entries.entries()) {
    const name = (entry as { name?: unknown } | null)?.name;
    const label =
      typeof name === 'string' && NAME_PATTERN.test(name)
        ? `schedule '${name}': `
        : `schedule ${index + 1}: `;
    const parsed = scheduleSchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0] as z.core.$ZodIssue;
      fail(label + fieldOf(issue.path), issue.message);
    }
    const schedule = parsed.data;
    const first = seen.get(schedule.name);
    if (first !== undefined) fail(label, `name: schedule ${first} has the same name`);
    seen.set(schedule.name, index + 1);
    if (!datasets.includes(schedule.dataset)) {
      fail(
        label,
        `dataset: '${schedule.dataset}' is not one of the declared datasets (${datasets.join(', ') || 'none'})`,
      );
    }
    const timeZoneError = checkTimeZone(schedule.timeZone);
    if (timeZoneError) fail(label, `timeZone: ${timeZoneError}`);
    const expressionError = checkExpression(schedule.expression, schedule.timeZone);
    if (expressionError) fail(label, `expression: ${expressionError}`);
    const root = `${INCOMING_PREFIX}${schedule.dataset}/`;
    const prefix = schedule.prefix ?? root;
    if (!prefix.startsWith(root)) {
      fail(label, `prefix: '${prefix}' is outside the dataset: it must start with ${root}`);
    }
    schedules.push({ ...schedule, prefix });
  }
  return { schedules, expectations };
}

/**
 * Reads and validates a declaration file; a file that does not exist declares no schedules.
 * @throws InvalidSchedules
 */
export function readSchedules(path: string): BatchSchedule[] {
  return readDeclaration(path).schedules;
}

/**
 * Reads and validates a declaration file; a file that does not exist declares nothing.
 * @throws InvalidSchedules
 */
export function readDeclaration(path: string): Declaration {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { schedules: [], expectations: [] };
    throw new InvalidSchedules(`${path}: cannot read the schedules (${(error as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidSchedules(`${path}: not JSON (${(error as Error).message})`);
  }
  return parseDeclaration(value, path);
}

/**
 * The schedule's first run strictly after `after`.
 *
 * A `rate()` schedule runs at whole multiples of its period since the Unix epoch (so `rate(1
 * day)` runs at 00:00 UTC). EventBridge Scheduler counts from the schedule's creation, or its
 * StartDate, instead: offline and deployed runs of a rate schedule fall at different times of day.
 */
export function nextRun(schedule: BatchSchedule, after: Date): Date {
  const compiled = compile(schedule);
  if (compiled.kind === 'rate') {
    return new Date((Math.floor(after.getTime() / compiled.periodMs) + 1) * compiled.periodMs);
  }
  let from = after;
  for (let tries = 0; tries < MAX_SKIPS; tries++) {
    const candidate = compiled.cron.nextRun(from);
    if (!candidate) break;
    if (runsAt(compiled, candidate)) return candidate;
    from = candidate;
  }
  // parseSchedules checks that an expression matches some date, so this is a bug.
  throw new Error(
    `${schedule.name}: ${schedule.expression} has no next run after ${after.toISOString()}`,
  );
}

/** The schedule's last run at or before `atOrBefore`; undefined when it has none since 1970. */
export function previousRun(
  schedule: Pick<BatchSchedule, 'expression' | 'timeZone'>,
  atOrBefore: Date,
): Date | undefined {
  const compiled = compile(schedule);
  if (compiled.kind === 'rate') {
    return new Date(Math.floor(atOrBefore.getTime() / compiled.periodMs) * compiled.periodMs);
  }
  // croner's previous runs are strictly before the reference; runs fall on whole minutes.
  let before = new Date(atOrBefore.getTime() + 1);
  for (let tries = 0; tries < MAX_SKIPS; tries++) {
    const [candidate] = compiled.cron.previousRuns(1, before);
    if (!candidate || candidate.getTime() < 0) return undefined;
    if (runsAt(compiled, candidate)) return candidate;
    before = candidate;
  }
  return undefined;
}

// --- expressions -------------------------------------------------------------------------------

type Compiled =
  | { readonly kind: 'rate'; readonly periodMs: number }
  | { readonly kind: 'cron'; readonly cron: Cron; readonly timeZone: string };

/** Candidates that DST takes away, in a row; a daily job loses at most one a year. */
const MAX_SKIPS = 16;

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS: Readonly<Record<string, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};
const CRON = /^cron\((.*)\)$/;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for the values from `min` on (JAN = 1, SUN = 1). */
  readonly names?: readonly string[];
  readonly hint?: string;
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, hint: ' or JAN-DEC' },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, hint: ' (1 is SUN) or SUN-SAT' },
];

const compiledCache = new Map<string, Compiled>();

function compile(schedule: Pick<BatchSchedule, 'expression' | 'timeZone'>): Compiled {
  const key = `${schedule.expression}\0${schedule.timeZone}`;
  let compiled = compiledCache.get(key);
  if (!compiled) {
    compiled = compileExpression(schedule.expression, schedule.timeZone);
    compiledCache.set(key, compiled);
  }
  return compiled;
}

/** A valid expression's evaluator. @throws Error with the reason the expression is invalid */
function compileExpression(expression: string, timeZone: string): Compiled {
  const rate = RATE.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] as string;
    if (value < 1) throw new Error('a rate is at least 1');
    const singular = !unit.endsWith('s');
    if ((value === 1) !== singular) {
      throw new Error(
        `write rate(${value} ${value === 1 ? unit.replace(/s$/, '') : unit.replace(/s?$/, 's')}): singular for 1, plural otherwise`,
      );
    }
    return { kind: 'rate', periodMs: value * (UNIT_MS[unit.replace(/s$/, '')] as number) };
  }
  const cron = CRON.exec(expression);
  if (!cron) {
    throw new Error(
      `'${expression}' is neither cron(minutes hours day-of-month month day-of-week year) nor rate(value minute|minutes|hour|hours|day|days)`,
    );
  }
  const fields = (cron[1] as string).trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new Error(
      `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year); this one has ${fields.length}`,
    );
  }
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (year !== '*') {
    throw new Error(
      `year: '${year}': only * is supported (a schedule that stops after some year would have no next run)`,
    );
  }
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    throw new Error(
      "use ? in exactly one of day-of-month and day-of-week: the other says which days (as in 'cron(0 2 * * ? *)')",
    );
  }
  for (const [index, spec] of FIELDS.entries()) checkField(fields[index] as string, spec);
  // croner reads AWS's form as its 7-part one (seconds first), with Quartz's 1-7 day numbering;
  // `?` is its wildcard, so AND of the day fields is simply the other field.
  const pattern = [
    '0',
    minutes,
    hours,
    dayOfMonth,
    month,
    dayOfWeek === 'L' ? '7' : dayOfWeek,
    '*',
  ];
  let evaluator: Cron;
  try {
    evaluator = new Cron(pattern.join(' '), {
      mode: '7-part',
      timezone: timeZone,
      alternativeWeekdays: true,
      domAndDow: true,
      sloppyRanges: true, // AWS's start/step form, `0/15`
      paused: true,
    });
  } catch (error) {
    throw new Error((error as Error).message.replace(/^CronPattern: /, ''));
  }
  if (!evaluator.nextRun(new Date(Date.UTC(2000, 0, 1)))) {
    throw new Error('it matches no date (30 February, say)');
  }
  return { kind: 'cron', cron: evaluator, timeZone };
}

/** AWS's grammar for one field: a list of `*`, values, ranges and steps, or one special. */
function checkField(field: string, spec: FieldSpec): void {
  const where = `${spec.name} '${field}'`;
  if (field === '?') {
    if (spec.name === 'day-of-month' || spec.name === 'day-of-week') return;
    throw new Error(`${where}: ? is for day-of-month or day-of-week only`);
  }
  if (spec.name === 'day-of-month' && /^(L|LW|\d{1,2}W)$/.test(field)) {
    if (field.endsWith('W') && field !== 'LW') checkValue(field.slice(0, -1), spec, where);
    return;
  }
  if (spec.name === 'day-of-week') {
    const last = /^(\w+)?L$/.exec(field);
    if (last) {
      if (last[1] !== undefined) checkValue(last[1], spec, where);
      return;
    }
    const nth = /^(\w+)#(\d+)$/.exec(field);
    if (nth) {
      checkValue(nth[1] as string, spec, where);
      const n = Number(nth[2]);
      if (n < 1 || n > 5) throw new Error(`${where}: the week of the month after # is 1 to 5`);
      return;
    }
  }
  for (const item of field.split(',')) {
    const step = /^(.+?)(?:\/(\d+))?$/.exec(item);
    const range = step?.[1] ?? '';
    if (step?.[2] !== undefined && Number(step[2]) < 1) {
      throw new Error(`${where}: a step is at least 1`);
    }
    if (range === '*') continue;
    const bounds = range.split('-');
    if (bounds.length > 2 || bounds.some((bound) => bound === '')) {
      throw new Error(`${where}: '${item}' is not a value, a range (a-b) or a step (*/n, a/n)`);
    }
    const [low, high] = bounds.map((bound) => checkValue(bound, spec, where));
    if (high !== undefined && (low as number) > high) {
      throw new Error(`${where}: the range '${range}' runs backwards`);
    }
  }
}

function checkValue(text: string, spec: FieldSpec, where: string): number {
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return spec.min + named;
  if (!/^\d+$/.test(text)) {
    throw new Error(
      `${where}: '${text}' is not a number from ${spec.min} to ${spec.max}${spec.hint ?? ''}`,
    );
  }
  const value = Number(text);
  if (value < spec.min || value > spec.max) {
    throw new Error(`${where}: ${value} is out of range ${spec.min}-${spec.max}${spec.hint ?? ''}`);
  }
  return value;
}

function checkExpression(expression: string, timeZone: string): string | undefined {
  try {
    compile({ expression, timeZone });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function checkTimeZone(timeZone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return undefined;
  } catch {
    return `'${timeZone}' is not a time zone: use an IANA name such as UTC or Europe/London`;
  }
}

function fieldOf(path: readonly PropertyKey[]): string {
  return path.length > 0 ? `${path.map(String).join('.')}: ` : '';
}

// --- daylight saving time ----------------------------------------------------------------------

/**
 * Whether EventBridge Scheduler runs a cron candidate that croner found. Scheduler skips a time
 * that a spring-forward change removes, where croner moves a fixed-time job past the gap; and
 * when a fall-back change repeats an hour, Scheduler runs once, where croner runs interval jobs
 * on both passes.
 */
function runsAt(compiled: Extract<Compiled, { kind: 'cron' }>, candidate: Date): boolean {
  if (!compiled.cron.match(candidate)) return false;
  const { timeZone } = compiled;
  const earlier = new Date(candidate.getTime() - 6 * 3_600_000);
  const shift = offsetMinutes(earlier, timeZone) - offsetMinutes(candidate, timeZone);
  if (shift <= 0) return true;
  const firstPass = new Date(candidate.getTime() - shift * 60_000);
  return wallClock(firstPass, timeZone) !== wallClock(candidate, timeZone);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** `2026-03-29T01:30`: the local time in `timeZone`, to the minute. */
function wallClock(date: Date, timeZone: string): string {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  const part = Object.fromEntries(formatter.formatToParts(date).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day}T${part.hour}:${part.minute}`;
}

/** Minutes `timeZone` is ahead of UTC at `date`. */
function offsetMinutes(date: Date, timeZone: string): number {
  const minute = Math.floor(date.getTime() / 60_000) * 60_000;
  return (Date.parse(`${wallClock(date, timeZone)}:00Z`) - minute) / 60_000;
}
