import type { FileStatus } from '#commons/types.ts';
import { InvalidOption } from './errors.ts';

/** An attempt's status, with the closed execution's status when its item still says PROCESSING. */
export type AttemptStatus = Exclude<FileStatus, 'SKIPPED_DUPLICATE'> | 'ABORTED' | 'TIMED_OUT';

/** Every status a file version can show, for `--status`. */
export const ATTEMPT_STATUSES: readonly AttemptStatus[] = [
  'PROCESSING',
  'SUCCEEDED',
  'QUARANTINED',
  'FAILED',
  'ABORTED',
  'TIMED_OUT',
];

/** `--status A,B`: the statuses asked for. @throws InvalidOption on an unknown one */
export function parseStatuses(value: string): Set<string> {
  const statuses = value
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  const unknown = statuses.filter((s) => !(ATTEMPT_STATUSES as readonly string[]).includes(s));
  if (statuses.length === 0 || unknown.length > 0) {
    throw new InvalidOption(
      `--status ${value}: use one or more of ${ATTEMPT_STATUSES.join(', ')}, comma-separated`,
    );
  }
  return new Set(statuses);
}

/** Statuses RedriveExecution accepts, as on AWS. */
export const REDRIVABLE_STATUSES = ['FAILED', 'ABORTED', 'TIMED_OUT'] as const;
