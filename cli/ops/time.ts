import { InvalidOption } from './errors.ts';

const UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * `--since`: an ISO 8601 time (`2026-01-02`, `2026-01-02T03:04:05Z`) or a span back from `now`
 * (`90s`, `30m`, `1h`, `2d`, `1w`).
 * @throws InvalidOption for anything else
 */
export function parseSince(value: string, now: Date = new Date()): Date {
  const relative = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(value.trim());
  if (relative) {
    const unit = UNITS[(relative[2] ?? '').toLowerCase()] ?? 0;
    return new Date(now.getTime() - Number(relative[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const time = Date.parse(value);
    if (!Number.isNaN(time)) return new Date(time);
  }
  throw new InvalidOption(
    `--since ${value}: give an ISO time (2026-01-02T03:04:05Z) or a span back from now (30m, 1h, 2d)`,
  );
}

/** A Date, an epoch-seconds number (Step Functions over JSON) or an ISO string, as ISO. */
export function isoTime(value: Date | number | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value === 'number') return new Date(value * 1000).toISOString();
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}
