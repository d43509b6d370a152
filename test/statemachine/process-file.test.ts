import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  allStates,
  substituteDefinition,
  taskStates,
} from '#local/emulators/step-functions/definition.ts';
import { arnSubstitution, FUNCTIONS } from '../../functions/registry.ts';

// asl-validator ships CommonJS with no types.
const validate = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: (separator?: string) => string;
};

const PATH = 'statemachine/process-file.asl.json';
const text = readFileSync(PATH, 'utf8');
const substitutions: Record<string, string> = { LedgerTableName: 'ledger' };
for (const fn of FUNCTIONS) {
  substitutions[arnSubstitution(fn.id)] = `arn:aws:lambda:us-east-1:123456789012:function:${fn.id}`;
}
const definition = JSON.parse(substituteDefinition(text, substitutions));
const tasks = taskStates(definition);
const states = new Map<string, Record<string, unknown>>(allStates(definition));
const stateOf = (name: string): Record<string, unknown> => states.get(name) ?? {};

describe(PATH, () => {
  it('uses only what the local interpreter runs: no JSONata, Assign, ItemReader or task tokens', () => {
    // A Distributed Map (ItemReader) is allowed in ProcessBatch only, in the form the local
    // runner rewrites: test/statemachine/process-batch.test.ts.
    // Assess
    for (const forbidden of [
      'QueryLanguage',
      'JSONata',
      '"Assign"',
      'ItemReader',
      'waitForTaskToken',
    ]) {
      expect(text, forbidden).not.toContain(forbidden);
    }
  });

  it('is valid ASL once substituted', () => {
    // Act
    const result = validate(definition);

    // Assess
    expect(result.isValid, result.errorsText()).toBe(true);
  });

  it('has a substitution for every placeholder, each a registry function or the ledger', () => {
    // Assess
    const placeholders = [...text.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]);
    expect(placeholders.length).toBeGreaterThan(0);
    for (const name of placeholders) expect(Object.keys(substitutions)).toContain(name);
  });

  it('retries transient errors with backoff and jitter on every task', () => {
    // Assess
    expect(tasks.length).toBeGreaterThanOrEqual(10);
    for (const { name } of tasks) {
      const retry = stateOf(name).Retry as { BackoffRate: number; JitterStrategy: string }[];
      expect(retry?.length, name).toBeGreaterThan(0);
      expect(retry[0]?.BackoffRate, name).toBeGreaterThan(1);
      expect(retry[0]?.JitterStrategy, name).toBe('FULL');
    }
  });

  it('gives each Lambda task at least its function timeout', () => {
    // Assess
    for (const { name, resource } of tasks) {
      const fn = FUNCTIONS.find((candidate) => resource.endsWith(`:function:${candidate.id}`));
      if (!fn) continue;
      expect(stateOf(name).TimeoutSeconds, name).toBeGreaterThanOrEqual(fn.timeoutSeconds);
    }
  });

  it('sends every transform failure to Quarantine, and quarantine failures to RecordFailure', () => {
    // Assess
    for (const name of ['Claim', 'PlanImage', 'ResizeVariants', 'CheckCsv', 'RecordResult']) {
      const catchers = stateOf(name).Catch as { ErrorEquals: string[]; Next: string }[];
      expect(catchers.at(-1), name).toMatchObject({
        ErrorEquals: ['States.ALL'],
        Next: 'Quarantine',
      });
    }
    expect(stateOf('Quarantine').Catch).toMatchObject([{ Next: 'RecordFailure' }]);
  });
});
