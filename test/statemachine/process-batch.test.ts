import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { allStates, substituteDefinition } from '#local/emulators/step-functions/definition.ts';
import {
  localizeDistributedMaps,
  UnsupportedDistributedMap,
} from '#local/emulators/step-functions/distributed-map.ts';
import { BATCH_RESULTS_PREFIX } from '../../functions/commons/batch.ts';
import { arnSubstitution, FUNCTIONS } from '../../functions/registry.ts';

// asl-validator ships CommonJS with no types.
const validate = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: (separator?: string) => string;
};

type Json = ReturnType<typeof JSON.parse>;

const PATH = 'statemachine/process-batch.asl.json';
const text = readFileSync(PATH, 'utf8');
const substitutions: Record<string, string> = {
  BucketName: 'bucket',
  ProcessFileStateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:ProcessFile',
};
for (const fn of FUNCTIONS) {
  substitutions[arnSubstitution(fn.id)] = `arn:aws:lambda:us-east-1:123456789012:function:${fn.id}`;
}
const definition = JSON.parse(substituteDefinition(text, substitutions));
const states = new Map<string, Json>(allStates(definition));

describe(PATH, () => {
  it('is valid ASL once substituted, with substitutions only inside strings', () => {
    // Act
    const result = validate(structuredClone(definition));

    // Assess
    expect(result.isValid, result.errorsText()).toBe(true);
    // A placeholder outside a string would make the file itself invalid JSON.
    expect(() => JSON.parse(text)).not.toThrow();
    for (const [, name] of text.matchAll(/\$\{(\w+)\}/g)) {
      expect(Object.keys(substitutions)).toContain(name);
    }
  });

  it('uses no JSONata, Assign or task tokens, and ItemReader only on its Distributed Map', () => {
    // Assess
    for (const forbidden of ['QueryLanguage', 'JSONata', '"Assign"', 'waitForTaskToken']) {
      expect(text, forbidden).not.toContain(forbidden);
    }
    const readers = [...states].filter(([, state]) => state.ItemReader !== undefined);
    expect(readers.map(([name]) => name)).toEqual(['ProcessObjects']);
    expect(states.get('ProcessObjects')).toMatchObject({
      ItemReader: { Resource: 'arn:aws:states:::s3:listObjectsV2' },
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
      MaxConcurrencyPath: '$.maxConcurrency',
      ToleratedFailurePercentage: expect.any(Number),
      ResultWriter: { Resource: 'arn:aws:states:::s3:putObject' },
    });
    // The guard: the local runner rewrites exactly this form.
    expect(() => localizeDistributedMaps(definition)).not.toThrow();
  });

  it('writes results where SummariseBatch looks for them after a failed Map', () => {
    // Assess
    const prefix = states.get('ProcessObjects').ResultWriter.Parameters.Prefix;
    expect(`${prefix}/`).toBe(BATCH_RESULTS_PREFIX);
  });

  it('hands each item to ProcessFile as a child, as an upload does', () => {
    // Assess
    expect(states.get('ProcessFile')).toMatchObject({
      Resource: 'arn:aws:states:::states:startExecution.sync:2',
      Parameters: { StateMachineArn: substitutions.ProcessFileStateMachineArn },
      Catch: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'] }],
    });
  });
});

describe('the local rewrite of a Distributed Map', () => {
  const local = localizeDistributedMaps(definition);
  const map = local.States.ProcessObjects;
  const branch = map.Branches[0];

  it('becomes a Parallel of a listing Task, an inline Map and a results Task, in that order', () => {
    // Assess
    expect(map.Type).toBe('Parallel');
    expect(branch.StartAt).toBe('ProcessObjects ItemReader');
    expect(branch.States['ProcessObjects ItemReader']).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::s3:listObjectsV2',
      Parameters: { Bucket: 'bucket', 'Prefix.$': '$.prefix' },
      Next: 'ProcessObjects Items',
    });
    expect(branch.States['ProcessObjects Items']).toMatchObject({
      Type: 'Map',
      ItemSelector: definition.States.ProcessObjects.ItemSelector,
      MaxConcurrencyPath: '$.maxConcurrency',
      Next: 'ProcessObjects ResultWriter',
    });
    expect(branch.States['ProcessObjects ResultWriter']).toMatchObject({ Type: 'Task', End: true });
  });

  it('keeps the Map’s ResultPath, Catch and Next, and its output shape', () => {
    // Assess
    const original = definition.States.ProcessObjects;
    expect(map).toMatchObject({
      ResultPath: original.ResultPath,
      Catch: original.Catch,
      Next: original.Next,
      ResultSelector: {
        'MapRunArn.$': '$[0].MapRunArn',
        'ResultWriterDetails.$': '$[0].ResultWriterDetails',
      },
    });
    expect(local.States.Begin).toEqual(definition.States.Begin);
  });

  it('catches each item’s failure, so failures are counted rather than ending the Map', () => {
    // Assess
    const processor = branch.States['ProcessObjects Items'].ItemProcessor;
    const item = processor.States['ProcessObjects Item'];
    expect(item.Type).toBe('Parallel');
    expect(item.Branches[0].States).toEqual(definition.States.ProcessObjects.ItemProcessor.States);
    expect(item.Catch).toMatchObject([{ ErrorEquals: ['States.ALL'] }]);
  });

  it('refuses any other form by name, rather than guessing', () => {
    // Arrange
    const variant = (change: (map: Json) => void) => {
      const copy = structuredClone(definition);
      change(copy.States.ProcessObjects);
      return () => localizeDistributedMaps(copy);
    };

    // Assess
    expect(variant((m) => (m.ItemBatcher = { MaxItemsPerBatch: 5 }))).toThrow(
      /Map 'ProcessObjects': ItemBatcher is not supported offline/,
    );
    expect(variant((m) => (m.ItemReader.Resource = 'arn:aws:states:::s3:getObject'))).toThrow(
      UnsupportedDistributedMap,
    );
    expect(variant((m) => delete m.ResultWriter)).toThrow(/ResultWriter must be/);
    expect(variant((m) => (m.ItemProcessor.ProcessorConfig.ExecutionType = 'EXPRESS'))).toThrow(
      /STANDARD children/,
    );
  });

  it('leaves a definition without one untouched', () => {
    // Arrange
    const plain = JSON.parse(readFileSync('statemachine/process-file.asl.json', 'utf8'));

    // Assess
    expect(localizeDistributedMaps(plain)).toEqual(plain);
  });
});
