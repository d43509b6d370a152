import {
  type CellCheck,
  fieldParser,
  isoDateAt,
  plainIntegerAt,
  plainNumberAt,
} from './field-checks.ts';
import type { Field } from './table-schema.ts';

/** True when the non-null cell `text[from, to)` is valid for its field: the verdict of its `check`. */
export type RangeCheck = (text: string, from: number, to: number) => boolean;

export const ALWAYS_VALID: RangeCheck = () => true;

function onlyConstraints(field: Field, allowed: readonly string[]): boolean {
  return Object.keys(field.constraints ?? {}).every((name) => allowed.includes(name));
}

function bounds(field: Field): { min: number; max: number } {
  const parse = fieldParser(field);
  const c = field.constraints ?? {};
  // compileFieldCheck has already rejected a bound that does not parse.
  const min = c.minimum === undefined ? Number.NEGATIVE_INFINITY : parse(String(c.minimum));
  const max = c.maximum === undefined ? Number.POSITIVE_INFINITY : parse(String(c.maximum));
  return { min: min as number, max: max as number };
}

/**
 * The EMAIL pattern of field-checks.ts (`^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$`) for printable
 * ASCII cells. False also when a character is not printable ASCII: the regex then decides.
 */
const isPlainEmail: RangeCheck = (text, from, to) => {
  let at = -1;
  let lastDot = -1;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
    if (c === 64) {
      if (at >= 0 || i === from) return false;
      at = i;
    } else if (c === 46 && at >= 0) {
      // Domain labels are non-empty: no dot right after the @ or another dot.
      if (i === at + 1 || i === lastDot + 1) return false;
      lastDot = i;
    }
  }
  // At least one dot in the domain, and a non-empty last label.
  return at >= 0 && lastDot > at && lastDot < to - 1;
};

/**
 * A twin of the field's compiled `check` that reads the cell in place, without making a string
 * of it, for the plain types that most columns have: strings with length and enum constraints,
 * emails, integers, numbers and ISO dates, with bounds. Any other field slices the cell for
 * `check`. Both give the same verdict on every cell (test/csv/range-checks.test.ts).
 */
export function compileRangeCheck(field: Field, check: CellCheck): RangeCheck {
  const type = field.type ?? 'string';
  const format = field.format ?? 'default';
  const keys = ['required', 'unique'];
  const bounded = [...keys, 'minimum', 'maximum'];
  const sliced: RangeCheck = (text, from, to) => check(text.slice(from, to)) === undefined;
  if (type === 'string' && format === 'default') {
    if (!onlyConstraints(field, [...keys, 'enum', 'minLength', 'maxLength'])) return sliced;
    const c = field.constraints ?? {};
    const members = c.enum?.map(String);
    const minLength = c.minLength ?? 0;
    const maxLength = c.maxLength ?? Number.POSITIVE_INFINITY;
    if (members === undefined && minLength === 0 && maxLength === Number.POSITIVE_INFINITY)
      return ALWAYS_VALID;
    return (text, from, to) => {
      const length = to - from;
      if (length < minLength || length > maxLength) return false;
      if (members === undefined) return true;
      // Compared character by character: startsWith is a builtin call per member, and enum
      // members are short.
      for (let i = 0; i < members.length; i++) {
        const member = members[i] as string;
        if (member.length !== length) continue;
        let c = 0;
        while (c < length && text.charCodeAt(from + c) === member.charCodeAt(c)) c++;
        if (c === length) return true;
      }
      return false;
    };
  }
  if (type === 'string' && format === 'email' && onlyConstraints(field, keys)) {
    return (text, from, to) => isPlainEmail(text, from, to) || sliced(text, from, to);
  }
  const bare = field.bareNumber ?? true;
  if (!onlyConstraints(field, bounded)) return sliced;
  // One closure per type, so each calls its parser directly, which V8 inlines.
  if (type === 'integer' && bare) {
    const { min, max } = bounds(field);
    return (text, from, to) => {
      const value = plainIntegerAt(text, from, to);
      return value === undefined ? sliced(text, from, to) : value >= min && value <= max;
    };
  }
  if (type === 'number' && bare && (field.decimalChar ?? '.') === '.' && !field.groupChar) {
    const { min, max } = bounds(field);
    return (text, from, to) => {
      const value = plainNumberAt(text, from, to);
      return value === undefined ? sliced(text, from, to) : value >= min && value <= max;
    };
  }
  if (type === 'date' && format === 'default') {
    const { min, max } = bounds(field);
    return (text, from, to) => {
      const value = isoDateAt(text, from, to);
      return value === undefined ? sliced(text, from, to) : value >= min && value <= max;
    };
  }
  return sliced;
}
