import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidFaultRules, parseFaultRules, readFaultRules } from '#local/faults/rules.ts';

describe('fault rules', () => {
  it("takes LocalStack's chaos rule shape, with the defaults filled in", () => {
    // Act
    const rules = parseFaultRules([
      {
        service: 'dynamodb',
        region: 'us-east-1',
        operation: 'PutItem',
        probability: 0.5,
        error: { statusCode: 400, code: 'ProvisionedThroughputExceededException' },
      },
      { service: 'lambda', latency: 200 },
    ]);

    // Assess
    expect(rules[0]).toMatchObject({ service: 'dynamodb', probability: 0.5, seed: 1 });
    expect(rules[1]).toMatchObject({ service: 'lambda', probability: 1, latency: 200 });
  });

  it('also takes { "rules": [...] }', () => {
    expect(parseFaultRules({ rules: [{ service: 's3', reset: true }] })).toHaveLength(1);
  });

  it.each([
    [
      [
        { service: 's3', reset: true },
        { service: 's3', operation: 'PutObject', probability: 2, reset: true },
      ],
      'rule 2 (s3 PutObject): probability',
    ],
    [
      [{ service: 'ec2', reset: true }],
      'rule 1 (ec2): service: Invalid option: expected one of "s3"|"dynamodb"',
    ],
    [
      [{ service: 'kinesis', operation: 'PutRecords' }],
      'rule 1 (kinesis PutRecords): a rule has exactly one effect',
    ],
    [
      [{ service: 's3', reset: true, latency: 5 }],
      'rule 1 (s3): reset: a rule has exactly one effect, one of error, latency, reset, commitThenReset, recordFailures; this one has latency and reset',
    ],
    [[{ service: 's3', error: { statusCode: 503 } }], 'rule 1 (s3): error.code'],
    [
      [{ service: 's3', recordFailures: { code: 'InternalFailure' } }],
      'rule 1 (s3): recordFailures: recordFailures applies to service "kinesis"',
    ],
    [[{ service: 's3', reset: true, probabilty: 0.1 }], 'rule 1 (s3)'],
    [{ service: 's3' }, 'expected a JSON array of rules'],
  ])('names the rule and the field of a bad rule: %j', (value, message) => {
    expect(() => parseFaultRules(value, 'faults.json')).toThrow(InvalidFaultRules);
    expect(() => parseFaultRules(value, 'faults.json')).toThrow(`faults.json: ${message}`);
  });

  it('says when a rules file is not JSON, or not there', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'sluice-faults-'));
    writeFileSync(join(dir, 'broken.json'), '[{"service": "s3",');

    // Act, Assess
    expect(() => readFaultRules(join(dir, 'broken.json'))).toThrow(/broken\.json: not JSON/);
    expect(() => readFaultRules(join(dir, 'missing.json'))).toThrow(
      /missing\.json: cannot read the fault rules/,
    );
  });
});
