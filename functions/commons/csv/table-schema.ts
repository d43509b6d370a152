import { InvalidTableSchema } from './errors.ts';
import { compileFieldCheck } from './field-checks.ts';

/** Field types of Frictionless Table Schema that the engine understands. */
export const FIELD_TYPES = [
  'string',
  'integer',
  'number',
  'boolean',
  'date',
  'time',
  'datetime',
  'year',
  'any',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Constraints of a Frictionless field. Bounds and enum members use the field's own type. */
export interface FieldConstraints {
  readonly required?: boolean;
  /**
   * No two non-null cells of the column are equal. Cells are compared as written (`1` and `01`
   * differ), in bounded memory whatever the file size; see `UniqueKeyIndex`.
   */
  readonly unique?: boolean;
  readonly minimum?: string | number;
  readonly maximum?: string | number;
  readonly minLength?: number;
  readonly maxLength?: number;
  /** A regular expression the whole cell must match (anchored, as in Frictionless). */
  readonly pattern?: string;
  readonly enum?: readonly (string | number | boolean)[];
}

/** One column of a Frictionless Table Schema. */
export interface Field {
  readonly name: string;
  /** @default 'string' */
  readonly type?: FieldType;
  /**
   * `email`, `uri` or `uuid` for strings; `default`, `any` or a strptime pattern such as
   * `%d/%m/%Y` for date, time and datetime.
   * @default 'default'
   */
  readonly format?: string;
  readonly constraints?: FieldConstraints;
  /** Decimal separator of `number` cells. @default '.' */
  readonly decimalChar?: string;
  /** Thousands separator of `number` cells, removed before parsing. @default none */
  readonly groupChar?: string;
  /** When false, `integer` and `number` cells may carry a prefix or suffix such as `€` or `%`. @default true */
  readonly bareNumber?: boolean;
  /** @default ['true', 'True', 'TRUE', '1'] */
  readonly trueValues?: readonly string[];
  /** @default ['false', 'False', 'FALSE', '0'] */
  readonly falseValues?: readonly string[];
  readonly title?: string;
  readonly description?: string;
}

/**
 * How the header row must relate to the schema's fields (Frictionless v2 `fieldsMatch`):
 * `exact` same names in the same order; `equal` same names in any order; `subset` every header
 * is a field but fields may be absent; `superset` every field is present, extra columns are
 * ignored; `partial` at least one field is present.
 */
export type FieldsMatch = 'exact' | 'equal' | 'subset' | 'superset' | 'partial';

/** CSV dialect. Anything left out is detected from the start of the file. */
export interface CsvDialect {
  /** @default detected among `,` `;` tab and `|` */
  readonly delimiter?: string;
  /** @default '"' */
  readonly quoteChar?: string;
  /** @default detected: `\r\n`, `\n` or `\r` */
  readonly lineTerminator?: string;
}

/** A Frictionless Table Schema, plus the two sluice extensions `invalidRowTolerance` and `dialect`. */
export interface TableSchema {
  readonly fields: Field[];
  /** Cells equal to one of these are null. @default [''] */
  readonly missingValues?: string[];
  /**
   * One or more field names whose combined value must be present (each key field is implicitly
   * required, so a composite key with a null in it is an error) and unique, compared as written.
   */
  readonly primaryKey?: string | string[];
  /** @default 'exact' */
  readonly fieldsMatch?: FieldsMatch;
  /**
   * sluice extension, in the spirit of Great Expectations' `mostly`: the largest fraction of data
   * rows (0 to 1) that may be invalid while the file is still accepted. `0.01` accepts a file with
   * at most 1% invalid rows; those rows still go to `invalid.csv`. Header errors reject the file
   * whatever the tolerance.
   * @default 0 — any invalid row rejects the file
   */
  readonly invalidRowTolerance?: number;
  /** sluice extension: the CSV dialect, when detection is not wanted. */
  readonly dialect?: CsvDialect;
}

const FIELDS_MATCH: readonly string[] = ['exact', 'equal', 'subset', 'superset', 'partial'];
const STRING_FORMATS: readonly string[] = ['default', 'email', 'uri', 'uuid'];

function fail(path: string, value: unknown, expected: string): never {
  throw new InvalidTableSchema(
    `Invalid Table Schema: ${path} is ${JSON.stringify(value) ?? String(value)}; expected ${expected}`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(obj: Record<string, unknown>, key: string, path: string): void {
  if (obj[key] !== undefined && typeof obj[key] !== 'string')
    fail(`${path}.${key}`, obj[key], 'a string');
}

function optionalStringArray(obj: Record<string, unknown>, key: string, path: string): void {
  const value = obj[key];
  if (value === undefined) return;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    fail(`${path}.${key}`, value, 'an array of strings');
  }
}

function optionalCount(obj: Record<string, unknown>, key: string, path: string): void {
  const value = obj[key];
  if (value !== undefined && !(Number.isInteger(value) && (value as number) >= 0)) {
    fail(`${path}.${key}`, value, 'a non-negative integer');
  }
}

function checkConstraints(value: unknown, path: string): void {
  if (value === undefined) return;
  if (!isRecord(value)) fail(path, value, 'an object');
  for (const key of ['required', 'unique']) {
    if (value[key] !== undefined && typeof value[key] !== 'boolean')
      fail(`${path}.${key}`, value[key], 'a boolean');
  }
  for (const key of ['minimum', 'maximum']) {
    const bound = value[key];
    if (bound !== undefined && typeof bound !== 'string' && typeof bound !== 'number') {
      fail(`${path}.${key}`, bound, 'a number or a string');
    }
  }
  optionalCount(value, 'minLength', path);
  optionalCount(value, 'maxLength', path);
  if (value.pattern !== undefined) {
    optionalString(value, 'pattern', path);
    try {
      new RegExp(value.pattern as string, 'u');
    } catch {
      fail(`${path}.pattern`, value.pattern, 'a valid regular expression');
    }
  }
  if (value.enum !== undefined) {
    const members = value.enum;
    if (
      !Array.isArray(members) ||
      members.length === 0 ||
      !members.every((m) => ['string', 'number', 'boolean'].includes(typeof m))
    ) {
      fail(`${path}.enum`, members, 'a non-empty array of strings, numbers or booleans');
    }
  }
}

function checkField(value: unknown, path: string): void {
  if (!isRecord(value)) fail(path, value, 'an object');
  if (typeof value.name !== 'string' || value.name === '')
    fail(`${path}.name`, value.name, 'a non-empty string');
  const type = value.type ?? 'string';
  if (!(FIELD_TYPES as readonly unknown[]).includes(type))
    fail(`${path}.type`, value.type, `one of ${FIELD_TYPES.join(', ')}`);
  optionalString(value, 'format', path);
  if (
    type === 'string' &&
    value.format !== undefined &&
    !STRING_FORMATS.includes(value.format as string)
  ) {
    fail(`${path}.format`, value.format, `one of ${STRING_FORMATS.join(', ')} for a string field`);
  }
  for (const key of ['decimalChar', 'groupChar']) {
    optionalString(value, key, path);
    if (typeof value[key] === 'string' && (value[key] as string).length !== 1)
      fail(`${path}.${key}`, value[key], 'a single character');
  }
  if (value.bareNumber !== undefined && typeof value.bareNumber !== 'boolean')
    fail(`${path}.bareNumber`, value.bareNumber, 'a boolean');
  optionalStringArray(value, 'trueValues', path);
  optionalStringArray(value, 'falseValues', path);
  checkConstraints(value.constraints, `${path}.constraints`);
}

/**
 * Checks that `json` (already parsed) is a Table Schema the engine can apply and returns it typed.
 * Everything is checked up front, so a bad schema fails before any byte of the file is read.
 * @throws InvalidTableSchema naming the offending property and the value it received
 */
export function parseTableSchema(json: unknown): TableSchema {
  if (!isRecord(json)) fail('the schema', json, 'an object with a "fields" array');
  const fields = json.fields;
  if (!Array.isArray(fields) || fields.length === 0)
    fail('fields', fields, 'a non-empty array of fields');
  const names = new Set<string>();
  fields.forEach((field, index) => {
    checkField(field, `fields[${index}]`);
    const name = (field as Field).name;
    if (names.has(name)) fail(`fields[${index}].name`, name, 'a name not used by another field');
    names.add(name);
  });
  optionalStringArray(json, 'missingValues', 'the schema');
  const primaryKey = json.primaryKey;
  if (primaryKey !== undefined) {
    const keys = typeof primaryKey === 'string' ? [primaryKey] : primaryKey;
    if (
      !Array.isArray(keys) ||
      keys.length === 0 ||
      !keys.every((key) => typeof key === 'string' && names.has(key))
    ) {
      fail(
        'primaryKey',
        primaryKey,
        `a field name or a non-empty array of field names among ${[...names].join(', ')}`,
      );
    }
  }
  if (json.fieldsMatch !== undefined && !FIELDS_MATCH.includes(json.fieldsMatch as string)) {
    fail('fieldsMatch', json.fieldsMatch, `one of ${FIELDS_MATCH.join(', ')}`);
  }
  const tolerance = json.invalidRowTolerance;
  if (
    tolerance !== undefined &&
    !(typeof tolerance === 'number' && tolerance >= 0 && tolerance <= 1)
  ) {
    fail('invalidRowTolerance', tolerance, 'a fraction between 0 and 1, e.g. 0.01 for 1%');
  }
  const dialect = json.dialect;
  if (dialect !== undefined) {
    if (!isRecord(dialect)) fail('dialect', dialect, 'an object');
    for (const key of ['delimiter', 'quoteChar']) {
      optionalString(dialect, key, 'dialect');
      if (typeof dialect[key] === 'string' && (dialect[key] as string).length !== 1)
        fail(`dialect.${key}`, dialect[key], 'a single character');
    }
    if (
      dialect.lineTerminator !== undefined &&
      !['\n', '\r\n', '\r'].includes(dialect.lineTerminator as string)
    ) {
      fail('dialect.lineTerminator', dialect.lineTerminator, 'one of "\\n", "\\r\\n", "\\r"');
    }
  }
  // Compiling catches bounds, enum members and date formats that do not fit their field's type.
  (fields as Field[]).forEach((field, index) => {
    compileFieldCheck(field, `fields[${index}]`);
  });
  return json as unknown as TableSchema;
}

/** The primary key as a list of field names (Frictionless allows a bare string). */
export function primaryKeyFields(schema: TableSchema): string[] {
  const key = schema.primaryKey;
  if (key === undefined) return [];
  return typeof key === 'string' ? [key] : [...key];
}
