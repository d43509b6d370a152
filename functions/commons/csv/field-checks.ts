import { InvalidTableSchema } from './errors.ts';
import type { Field, FieldType } from './table-schema.ts';

/** Why a non-null cell fails its field: the Frictionless error type and the note of its message. */
export interface CellIssue {
  readonly type: 'type-error' | 'constraint-error';
  readonly note: string;
}

/** Returns the cell's problem, or `undefined` when it is valid. Never called on null cells. */
export type CellCheck = (cell: string) => CellIssue | undefined;

/** A value parsed from a cell: dates and times become numbers so bounds can compare them. */
type Parsed = string | number | boolean;
type Parser = (cell: string) => Parsed | undefined;

const INTEGER = /^[-+]?\d+$/;
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
const SPECIAL_NUMBERS = new Map([
  ['NaN', Number.NaN],
  ['INF', Number.POSITIVE_INFINITY],
  ['+INF', Number.POSITIVE_INFINITY],
  ['-INF', Number.NEGATIVE_INFINITY],
]);
// Bare-number off lets currency signs and units surround the digits, as in Frictionless.
const NUMBER_CORE = /^\D*?([-+]?\d(?:.*\d)?)\D*$/;
const EMAIL = /^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[-+]\d{2}:?\d{2})?$/;
const ISO_DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[-+]\d{2}:?\d{2})?$/;
const YEAR = /^\d{4}$/;
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, power) => 10 ** power);
const DEFAULT_TRUE = ['true', 'True', 'TRUE', '1'];
const DEFAULT_FALSE = ['false', 'False', 'FALSE', '0'];

const ORDERED_TYPES: readonly FieldType[] = [
  'integer',
  'number',
  'year',
  'date',
  'time',
  'datetime',
];

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** Days since 1970-01-01 of a valid civil date, by arithmetic: `Date` objects are too slow per cell. */
function epochDays(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

interface DateParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  fraction: number;
  offsetMinutes: number;
}

/** Milliseconds since the epoch, or undefined when a component is out of range (e.g. 30 February). */
function toEpochMs(p: DateParts): number | undefined {
  if (p.month < 1 || p.month > 12 || p.day < 1 || p.day > daysInMonth(p.year, p.month))
    return undefined;
  // 24:00:00 and leap seconds are rejected: loaders downstream refuse them too.
  if (p.hour > 23 || p.minute > 59 || p.second > 59) return undefined;
  return (
    epochDays(p.year, p.month, p.day) * 86_400_000 +
    ((p.hour * 60 + p.minute) * 60 + p.second) * 1000 +
    p.fraction * 1000 -
    p.offsetMinutes * 60_000
  );
}

function parseOffset(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z') return 0;
  const digits = zone.replace(':', '');
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  return zone.startsWith('-') ? -minutes : minutes;
}

function fraction(digits: string | undefined): number {
  return digits === undefined ? 0 : Number(`0.${digits}`);
}

/** The digit at `text[i]`, or a value negative enough to spoil any sum it is part of. */
function digitAt(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -100_000;
}

/**
 * The ISO date `text[from, to)` as the number YYYYMMDD, which orders like the dates, or
 * undefined. Character codes instead of a regex or a day count: this runs on every date cell.
 */
export function isoDateAt(text: string, from: number, to: number): number | undefined {
  if (to - from !== 10 || text.charCodeAt(from + 4) !== 45 || text.charCodeAt(from + 7) !== 45)
    return undefined;
  const year =
    digitAt(text, from) * 1000 +
    digitAt(text, from + 1) * 100 +
    digitAt(text, from + 2) * 10 +
    digitAt(text, from + 3);
  const month = digitAt(text, from + 5) * 10 + digitAt(text, from + 6);
  const day = digitAt(text, from + 8) * 10 + digitAt(text, from + 9);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
    return undefined;
  return year * 10_000 + month * 100 + day;
}

/** The value of `text[from, to)` when it is 1 to 15 plain digits (exact as a double), else undefined. */
export function plainIntegerAt(text: string, from: number, to: number): number | undefined {
  if (to <= from || to - from > 15) return undefined;
  let value = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    value = value * 10 + d;
  }
  return value;
}

/**
 * The value of `text[from, to)` when it is up to 15 digits with at most one dot, else undefined.
 * digits / 10^decimals is one correctly rounded division of two exact doubles, so it equals
 * Number(cell) at a fraction of its cost.
 */
export function plainNumberAt(text: string, from: number, to: number): number | undefined {
  let digitsSeen = 0;
  let decimals = -1;
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 && decimals < 0) decimals = 0;
    else if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      digitsSeen++;
      if (decimals >= 0) decimals++;
    } else return undefined;
  }
  if (digitsSeen === 0 || digitsSeen > 15) return undefined;
  return decimals <= 0 ? value : value / (POWERS_OF_TEN[decimals] as number);
}

const parseIsoDate: Parser = (cell) => isoDateAt(cell, 0, cell.length);

const parseIsoTime: Parser = (cell) => {
  const m = ISO_TIME.exec(cell);
  if (m === null) return undefined;
  const [hour, minute, second] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return hour * 3600 + minute * 60 + second + fraction(m[4]) - parseOffset(m[5]) * 60;
};

const parseIsoDatetime: Parser = (cell) => {
  const m = ISO_DATETIME.exec(cell);
  if (m === null) return undefined;
  return toEpochMs({
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: Number(m[4]),
    minute: Number(m[5]),
    second: Number(m[6]),
    fraction: fraction(m[7]),
    offsetMinutes: parseOffset(m[8]),
  });
};

const STRPTIME: Record<string, { regex: string; part: keyof DateParts | 'shortYear' | 'literal' }> =
  {
    Y: { regex: '(\\d{4})', part: 'year' },
    y: { regex: '(\\d{2})', part: 'shortYear' },
    m: { regex: '(\\d{1,2})', part: 'month' },
    d: { regex: '(\\d{1,2})', part: 'day' },
    H: { regex: '(\\d{1,2})', part: 'hour' },
    M: { regex: '(\\d{2})', part: 'minute' },
    S: { regex: '(\\d{2})', part: 'second' },
    f: { regex: '(\\d{1,9})', part: 'fraction' },
    z: { regex: '(Z|[-+]\\d{2}:?\\d{2})', part: 'offsetMinutes' },
  };

/** Compiles the strptime subset %Y %y %m %d %H %M %S %f %z %% into a parser to epoch units. */
function strptimeParser(format: string, type: FieldType, path: string): Parser {
  const parts: (keyof DateParts | 'shortYear')[] = [];
  let source = '';
  for (let i = 0; i < format.length; i++) {
    const char = format[i] as string;
    if (char !== '%') {
      source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    const directive = format[++i];
    if (directive === '%') {
      source += '%';
      continue;
    }
    const spec = directive === undefined ? undefined : STRPTIME[directive];
    if (spec === undefined) {
      throw new InvalidTableSchema(
        `Invalid Table Schema: ${path}.format is ${JSON.stringify(format)}; directive %${directive ?? ''} is not supported (use %Y %y %m %d %H %M %S %f %z)`,
      );
    }
    source += spec.regex;
    parts.push(spec.part as keyof DateParts | 'shortYear');
  }
  const regex = new RegExp(`^${source}$`);
  const unit = type === 'date' ? 86_400_000 : 1;
  return (cell) => {
    const m = regex.exec(cell);
    if (m === null) return undefined;
    const p: DateParts = {
      year: 1970,
      month: 1,
      day: 1,
      hour: 0,
      minute: 0,
      second: 0,
      fraction: 0,
      offsetMinutes: 0,
    };
    parts.forEach((part, index) => {
      const text = m[index + 1] as string;
      if (part === 'shortYear') p.year = 2000 + Number(text) - (Number(text) >= 69 ? 100 : 0);
      else if (part === 'fraction') p.fraction = fraction(text);
      else if (part === 'offsetMinutes') p.offsetMinutes = parseOffset(text);
      else p[part] = Number(text);
    });
    const ms = toEpochMs(p);
    return ms === undefined ? undefined : ms / unit;
  };
}

function numberParser(field: Field): Parser {
  const decimalChar = field.decimalChar ?? '.';
  const groupChar = field.groupChar;
  const bare = field.bareNumber ?? true;
  if (decimalChar === '.' && groupChar === undefined && bare) {
    return (cell) => {
      const plain = plainNumberAt(cell, 0, cell.length);
      if (plain !== undefined) return plain;
      return NUMBER.test(cell) ? Number(cell) : SPECIAL_NUMBERS.get(cell);
    };
  }
  return (cell) => {
    let text = cell;
    if (!bare) text = NUMBER_CORE.exec(text)?.[1] ?? text;
    if (groupChar !== undefined) text = text.split(groupChar).join('');
    if (decimalChar !== '.') {
      if (text.includes('.')) return undefined;
      text = text.replace(decimalChar, '.');
    }
    return NUMBER.test(text) ? Number(text) : SPECIAL_NUMBERS.get(text);
  };
}

function integerParser(field: Field): Parser {
  if (field.bareNumber ?? true) {
    return (cell) => {
      const plain = plainIntegerAt(cell, 0, cell.length);
      if (plain !== undefined) return plain;
      return INTEGER.test(cell) ? Number(cell) : undefined;
    };
  }
  return (cell) => {
    const text = NUMBER_CORE.exec(cell)?.[1];
    return text !== undefined && INTEGER.test(text) ? Number(text) : undefined;
  };
}

/** The parser of a field's type and format, used by validation and by schema inference. */
export function fieldParser(field: Field, path = `field "${field.name}"`): Parser {
  const type = field.type ?? 'string';
  const format = field.format ?? 'default';
  switch (type) {
    case 'string': {
      const regex =
        format === 'email' ? EMAIL : format === 'uri' ? URI : format === 'uuid' ? UUID : undefined;
      return regex === undefined ? (cell) => cell : (cell) => (regex.test(cell) ? cell : undefined);
    }
    case 'integer':
      return integerParser(field);
    case 'number':
      return numberParser(field);
    case 'boolean': {
      const trues = new Set(field.trueValues ?? DEFAULT_TRUE);
      const falses = new Set(field.falseValues ?? DEFAULT_FALSE);
      return (cell) => (trues.has(cell) ? true : falses.has(cell) ? false : undefined);
    }
    case 'year':
      return (cell) => (YEAR.test(cell) ? Number(cell) : undefined);
    case 'date':
    case 'time':
    case 'datetime': {
      if (format === 'default')
        return type === 'date' ? parseIsoDate : type === 'time' ? parseIsoTime : parseIsoDatetime;
      if (format === 'any') {
        return (cell) => {
          const ms = Date.parse(type === 'time' ? `1970-01-01T${cell}` : cell);
          return Number.isNaN(ms) ? undefined : ms;
        };
      }
      return strptimeParser(format, type, path);
    }
    default:
      return (cell) => cell;
  }
}

/**
 * Compiles a field's type and constraints (all but `required` and `unique`, which need the row
 * and the table) into one check. Bounds and enum members are parsed once, here, so a schema
 * whose `minimum` does not fit its own type fails before the file is read.
 * @throws InvalidTableSchema
 */
export function compileFieldCheck(field: Field, path = `field "${field.name}"`): CellCheck {
  const type = field.type ?? 'string';
  const parse = fieldParser(field, path);
  const constraints = field.constraints ?? {};
  const typeIssue: CellIssue = {
    type: 'type-error',
    note: `type is "${type}/${field.format ?? 'default'}"`,
  };
  const steps: ((cell: string, value: Parsed) => CellIssue | undefined)[] = [];
  const constraint = (name: string, value: unknown): CellIssue => ({
    type: 'constraint-error',
    note: `constraint "${name}" is "${Array.isArray(value) ? value.join(',') : String(value)}"`,
  });
  const bound = (name: 'minimum' | 'maximum'): number | undefined => {
    const raw = constraints[name];
    if (raw === undefined) return undefined;
    const value = ORDERED_TYPES.includes(type) ? parse(String(raw)) : undefined;
    if (typeof value !== 'number') {
      throw new InvalidTableSchema(
        `Invalid Table Schema: ${path}.constraints.${name} is ${JSON.stringify(raw)}; expected a ${type} value (bounds apply to ${ORDERED_TYPES.join(', ')})`,
      );
    }
    return value;
  };
  if (constraints.enum !== undefined) {
    const members = new Set(
      constraints.enum.map((member) => {
        const value = parse(String(member));
        if (value === undefined) {
          throw new InvalidTableSchema(
            `Invalid Table Schema: ${path}.constraints.enum contains ${JSON.stringify(member)}, which is not a valid ${type}`,
          );
        }
        return value;
      }),
    );
    const issue = constraint('enum', constraints.enum);
    const list = [...members];
    // A short list compares faster than a Set, which must hash each freshly parsed string.
    steps.push(
      list.length <= 12
        ? (_, value) => (list.includes(value) ? undefined : issue)
        : (_, value) => (members.has(value) ? undefined : issue),
    );
  }
  const minimum = bound('minimum');
  if (minimum !== undefined) {
    const issue = constraint('minimum', constraints.minimum);
    steps.push((_, value) => ((value as number) < minimum ? issue : undefined));
  }
  const maximum = bound('maximum');
  if (maximum !== undefined) {
    const issue = constraint('maximum', constraints.maximum);
    steps.push((_, value) => ((value as number) > maximum ? issue : undefined));
  }
  if (constraints.minLength !== undefined) {
    const min = constraints.minLength;
    const issue = constraint('minLength', min);
    steps.push((cell) => (cell.length < min ? issue : undefined));
  }
  if (constraints.maxLength !== undefined) {
    const max = constraints.maxLength;
    const issue = constraint('maxLength', max);
    steps.push((cell) => (cell.length > max ? issue : undefined));
  }
  if (constraints.pattern !== undefined) {
    // Frictionless patterns match the whole cell, so anchor them.
    const regex = new RegExp(`^(?:${constraints.pattern})$`, 'u');
    const issue = constraint('pattern', constraints.pattern);
    steps.push((cell) => (regex.test(cell) ? undefined : issue));
  }
  const [first, second] = steps;
  // Unrolled for the common one- or zero-constraint fields: this runs once per cell.
  if (steps.length === 0) return (cell) => (parse(cell) === undefined ? typeIssue : undefined);
  if (steps.length === 1 && first !== undefined) {
    return (cell) => {
      const value = parse(cell);
      return value === undefined ? typeIssue : first(cell, value);
    };
  }
  if (steps.length === 2 && first !== undefined && second !== undefined) {
    return (cell) => {
      const value = parse(cell);
      return value === undefined ? typeIssue : (first(cell, value) ?? second(cell, value));
    };
  }
  return (cell) => {
    const value = parse(cell);
    if (value === undefined) return typeIssue;
    for (const step of steps) {
      const issue = step(cell, value);
      if (issue !== undefined) return issue;
    }
    return undefined;
  };
}
