import { describe, expect, it } from 'vitest';
import type { FileRow } from '../../console/server/file-index.ts';
import { groupFailures, messagePattern } from '../../console/server/triage.ts';

const row = (key: string, status: string, name: string, message: string): FileRow => ({
  key,
  dataset: key.split('/')[1] ?? '',
  kind: 'csv',
  status: status as FileRow['status'],
  executionArn: `arn:aws:states:us-east-1:000000000000:execution:sluice-ProcessFile:${key}`,
  startDate: '2026-12-04T00:00:00.000Z',
  stopDate: `2026-12-04T00:00:0${key.length % 10}.000Z`,
  error: { name, message },
  bucket: 'b',
  versionTag: 'v',
  attempt: 1,
  attempts: 1,
  duplicates: 0,
  size: 1,
  durationMs: 1,
  rows: null,
  invalidRows: null,
});

describe('failure groups', () => {
  it('blanks out the numbers, keys and quoted cells that differ between files', () => {
    expect(
      messagePattern('5 of 32 rows are invalid; the report is at validated/a/b/report.json'),
    ).toBe('N of N rows are invalid; the report is at <key>');
    expect(
      messagePattern(
        '1 of 2 rows are invalid; the report is at validated/o/Weird Name (2)/report.json',
      ),
    ).toBe('N of N rows are invalid; the report is at <key>');
    expect(messagePattern('Type error in the cell "x y" in row 7')).toBe(
      'Type error in the cell "…" in row N',
    );
  });

  it('groups by error name and pattern, the largest group first', () => {
    const groups = groupFailures([
      row(
        'incoming/a/1.csv',
        'QUARANTINED',
        'CsvRejected',
        '1 of 3 rows are invalid; see x/y.json',
      ),
      row(
        'incoming/b/2.csv',
        'QUARANTINED',
        'CsvRejected',
        '9 of 90 rows are invalid; see z/w.json',
      ),
      row('incoming/a/3.png', 'FAILED', 'S3.AccessDenied', 'Access Denied'),
    ]);
    expect(groups.map((g) => [g.errorName, g.files.length])).toEqual([
      ['CsvRejected', 2],
      ['S3.AccessDenied', 1],
    ]);
    expect(groups[0]?.datasets).toEqual(['a', 'b']);
    expect(groups[0]?.pattern).toBe('N of N rows are invalid; see <key>');
    expect(groups[1]?.statuses).toEqual(['FAILED']);
  });
});
