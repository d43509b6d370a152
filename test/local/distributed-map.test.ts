import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalS3, localS3Client, startLocalS3 } from '#local/emulators/s3.ts';
import {
  distributedMapTasks,
  localizeDistributedMaps,
} from '#local/emulators/step-functions/distributed-map.ts';
import { LocalStepFunctions } from '#local/emulators/step-functions/local-step-functions.ts';

type Json = ReturnType<typeof JSON.parse>;

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Fanout';
const WORK = 'arn:aws:lambda:us-east-1:000000000000:function:work';

/** A Distributed Map over `in/`, whose children fail for keys with "bad" in them. */
const DEFINITION = {
  StartAt: 'Each',
  States: {
    Each: {
      Type: 'Map',
      ItemReader: {
        Resource: 'arn:aws:states:::s3:listObjectsV2',
        Parameters: { Bucket: 'b', Prefix: 'in/' },
      },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'Work',
        States: { Work: { Type: 'Task', Resource: WORK, End: true } },
      },
      MaxConcurrency: 2,
      ToleratedFailurePercentage: 25,
      ResultWriter: {
        Resource: 'arn:aws:states:::s3:putObject',
        Parameters: { Bucket: 'b', Prefix: 'results' },
      },
      ResultPath: '$.map',
      Catch: [{ ErrorEquals: ['States.ExceedToleratedFailureThreshold'], Next: 'TooMany' }],
      End: true,
    },
    TooMany: { Type: 'Pass', End: true },
  },
};

let dir: string;
let server: LocalS3;
let s3: S3Client;

async function readJson(key: string): Promise<Json> {
  const object = await s3.send(new GetObjectCommand({ Bucket: 'b', Key: key }));
  return JSON.parse((await object.Body?.transformToString()) ?? 'null');
}

async function run(keys: readonly string[], name: string) {
  for (const key of keys) {
    await s3.send(new PutObjectCommand({ Bucket: 'b', Key: `in/${name}/${key}`, Body: key }));
  }
  const definition = structuredClone(DEFINITION);
  definition.States.Each.ItemReader.Parameters.Prefix = `in/${name}/`;
  const mapTasks = distributedMapTasks(() => s3);
  const sfn = new LocalStepFunctions({
    stateMachines: [{ arn: ARN, definition: localizeDistributedMaps(definition) }],
    resolveTask: (resource) =>
      mapTasks(resource) ??
      (resource === WORK
        ? async (item: Json) => {
            if (String(item.Key).includes('bad')) throw new Error(`${item.Key} is bad`);
            return { done: item.Key };
          }
        : undefined),
  });
  const { executionArn } = sfn.startExecution({ stateMachineArn: ARN, name });
  for (;;) {
    const described = sfn.describeExecution({ executionArn });
    if (described.status !== 'RUNNING') {
      const mapRunArn = sfn.listMapRuns({ executionArn }).mapRuns[0]?.mapRunArn ?? '';
      const mapRun = sfn.describeMapRun({ mapRunArn });
      await sfn.close();
      return { described, output: JSON.parse(described.output ?? 'null'), mapRun };
    }
    await new Promise((wake) => setTimeout(wake, 10));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-dmap-'));
  server = await startLocalS3({ directory: dir, bucket: 'b', onObjectCreated: () => {} });
  s3 = localS3Client(server.endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Distributed Map, run locally through its rewrite', () => {
  it('lists the prefix, runs a child per object and writes the results as AWS lays them out', async () => {
    // Act: 1 of 4 fails, which 25 % tolerates.
    const { described, output, mapRun } = await run(['a', 'b', 'c', 'bad'], 'tolerated');

    // Assess
    expect(described.status).toBe('SUCCEEDED');
    expect(output.map.ResultWriterDetails.Key).toMatch(/^results\/[0-9a-f]{32}\/manifest\.json$/);
    expect(output.map.MapRunArn).toBe(mapRun.mapRunArn);
    const manifest = await readJson(output.map.ResultWriterDetails.Key);
    expect(manifest).toMatchObject({ DestinationBucket: 'b', MapRunArn: mapRun.mapRunArn });
    const succeeded = await readJson(manifest.ResultFiles.SUCCEEDED[0].Key);
    const failed = await readJson(manifest.ResultFiles.FAILED[0].Key);
    expect(succeeded.map((entry: Json) => JSON.parse(entry.Output).done).sort()).toEqual([
      'in/tolerated/a',
      'in/tolerated/b',
      'in/tolerated/c',
    ]);
    expect(failed).toMatchObject([
      { Status: 'FAILED', Error: 'Error', Cause: 'in/tolerated/bad is bad' },
    ]);
    expect(JSON.parse(failed[0].Input)).toMatchObject({ Key: 'in/tolerated/bad', Size: 3 });
    expect(mapRun).toMatchObject({
      status: 'SUCCEEDED',
      maxConcurrency: 2,
      toleratedFailurePercentage: 25,
      itemCounts: { total: 4, succeeded: 3, failed: 1, pending: 0, running: 0 },
    });
  });

  it('fails with States.ExceedToleratedFailureThreshold past the tolerated share, which Catch takes', async () => {
    // Act: 2 of 4 fail.
    const { described } = await run(['a', 'b', 'bad1', 'bad2'], 'exceeded');

    // Assess
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output ?? '')).toMatchObject({
      Error: 'States.ExceedToleratedFailureThreshold',
    });
  });
});
