import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resumePoint } from '#local/emulators/step-functions/history.ts';
import { LocalStepFunctions } from '#local/emulators/step-functions/local-step-functions.ts';

type Json = ReturnType<typeof JSON.parse>;

const ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:Test';

/** Prep → Fanout (a Map of Work over three items) → Finish. */
const DEFINITION = {
  StartAt: 'Prep',
  States: {
    Prep: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:prep',
      ResultPath: '$.prep',
      Next: 'Fanout',
    },
    Fanout: {
      Type: 'Map',
      ItemsPath: '$.items',
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:000000000000:function:work',
            End: true,
          },
        },
      },
      ResultPath: '$.worked',
      Next: 'Finish',
    },
    Finish: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:finish',
      End: true,
    },
  },
};

class Broken extends Error {
  override name = 'Broken';
}

/** Task handlers that count their calls; `work` fails for `failing` items until it is fixed. */
function tasks() {
  const calls: string[] = [];
  const state = {
    failing: new Set<number>(),
    finish: (): Promise<unknown> => Promise.resolve('done'),
  };
  const handlers: Record<string, (input: Json) => Promise<Json>> = {
    'arn:aws:lambda:us-east-1:000000000000:function:prep': async () => {
      calls.push('prep');
      return 'prepared';
    },
    'arn:aws:lambda:us-east-1:000000000000:function:work': async (item: number) => {
      calls.push(`work:${item}`);
      if (state.failing.has(item)) throw new Broken(`item ${item} is broken`);
      return item * 10;
    },
    'arn:aws:lambda:us-east-1:000000000000:function:finish': async () => {
      calls.push('finish');
      return state.finish();
    },
  };
  return { calls, state, resolveTask: (resource: string) => handlers[resource] };
}

async function settle(sfn: LocalStepFunctions, executionArn: string) {
  for (;;) {
    const described = sfn.describeExecution({ executionArn });
    if (described.status !== 'RUNNING') return described;
    await new Promise((wake) => setTimeout(wake, 5));
  }
}

const entered = (sfn: LocalStepFunctions, executionArn: string) =>
  sfn
    .getExecutionHistory({ executionArn, maxResults: 1000 })
    .events.filter((e) => e.type.endsWith('StateEntered'))
    .map((e) => e.stateEnteredEventDetails.name as string);

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('RedriveExecution', () => {
  it('re-runs only the failed Map iteration and keeps the ARN, as AWS does', async () => {
    // Prepare: item 2 fails, so the Map and the execution fail.
    const { calls, state, resolveTask } = tasks();
    state.failing.add(2);
    const sfn = new LocalStepFunctions({
      stateMachines: [{ arn: ARN, definition: DEFINITION }],
      resolveTask,
    });
    const { executionArn } = sfn.startExecution({
      stateMachineArn: ARN,
      name: 'redrive-me',
      input: JSON.stringify({ items: [1, 2, 3] }),
    });
    expect((await settle(sfn, executionArn)).status).toBe('FAILED');
    const before = entered(sfn, executionArn).length;
    state.failing.clear();
    calls.length = 0;

    // Act
    const { redriveDate } = sfn.redriveExecution({ executionArn });
    const after = await settle(sfn, executionArn);

    // Assess
    expect(redriveDate).toBeGreaterThan(0);
    expect(after).toMatchObject({ status: 'SUCCEEDED', redriveCount: 1, executionArn });
    expect(calls).toEqual(['work:2', 'finish']);
    const events = sfn.getExecutionHistory({ executionArn, maxResults: 1000 }).events;
    expect(events.filter((e) => e.type === 'ExecutionRedriven')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
    const redriven = entered(sfn, executionArn).slice(before);
    expect(redriven).toEqual(['Fanout', 'Work', 'Finish']);
    expect(entered(sfn, executionArn).filter((name) => name === 'Prep')).toHaveLength(1);
    await sfn.close();
  });

  it('refuses a SUCCEEDED execution with ExecutionNotRedrivable', async () => {
    // Prepare
    const { resolveTask } = tasks();
    const sfn = new LocalStepFunctions({
      stateMachines: [{ arn: ARN, definition: DEFINITION }],
      resolveTask,
    });
    const { executionArn } = sfn.startExecution({ stateMachineArn: ARN, input: '{"items":[1]}' });
    await settle(sfn, executionArn);

    // Act
    const redrive = () => sfn.redriveExecution({ executionArn });

    // Assess
    expect(redrive).toThrow(expect.objectContaining({ name: 'ExecutionNotRedrivable' }));
    expect(sfn.describeExecution({ executionArn })).toMatchObject({
      status: 'SUCCEEDED',
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
    });
    await sfn.close();
  });
});

/** A first process stopped while Finish ran: its data dir, options and the execution. */
async function interruptedAtFinish() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sfn-'));
  dirs.push(dir);
  const first = tasks();
  first.state.finish = () => new Promise(() => {});
  const options = { stateMachines: [{ arn: ARN, definition: DEFINITION }], persistDir: dir };
  const one = new LocalStepFunctions({ ...options, resolveTask: first.resolveTask });
  const { executionArn } = one.startExecution({
    stateMachineArn: ARN,
    name: 'interrupted',
    input: JSON.stringify({ items: [1, 2] }),
  });
  while (!first.calls.includes('finish')) await new Promise((wake) => setTimeout(wake, 5));
  await one.close();
  return { dir, options, executionArn, first };
}

describe('durable executions', () => {
  it('go on after a restart from the state they were in, without repeating finished tasks', async () => {
    // Prepare: the first process stops while Finish runs.
    const { options, executionArn, first } = await interruptedAtFinish();

    // Act
    const second = tasks();
    const two = new LocalStepFunctions({ ...options, resolveTask: second.resolveTask });
    expect(two.describeExecution({ executionArn }).status).toBe('RUNNING');
    const resumed = two.resumeRunning();
    const done = await settle(two, executionArn);

    // Assess
    expect(resumed).toBe(1);
    expect(done).toMatchObject({ status: 'SUCCEEDED', redriveCount: 0, output: '"done"' });
    expect(first.calls).toEqual(['prep', 'work:1', 'work:2', 'finish']);
    expect(second.calls).toEqual(['finish']);
    const events = two.getExecutionHistory({ executionArn, maxResults: 1000 }).events;
    expect(events.filter((e) => e.type === 'ExecutionStarted')).toHaveLength(1);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    await two.close();
  });

  it('go on from a journal whose last line a crash cut short, or from an earlier layout', async () => {
    for (const damage of ['cut short', 'three files'] as const) {
      // Prepare: the first process stops while Finish runs; then its journal is damaged, or
      // split into the record, history and task files that sluice kept before journals.
      const { dir, options, executionArn } = await interruptedAtFinish();
      const journal = join(dir, 'Test', 'interrupted.journal');
      if (damage === 'cut short') appendFileSync(journal, '{"id":99,"type":"TaskSt');
      else {
        const lines = readFileSync(journal, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        const file = (lines: readonly Json[]) =>
          lines.map((l) => `${JSON.stringify(l)}\n`).join('');
        writeFileSync(join(dir, 'Test', 'interrupted.json'), JSON.stringify(lines[0].record));
        writeFileSync(
          join(dir, 'Test', 'interrupted.history.jsonl'),
          file(lines.filter((l) => l.type)),
        );
        writeFileSync(
          join(dir, 'Test', 'interrupted.tasks.jsonl'),
          file(lines.filter((l) => l.task).map((l) => l.task)),
        );
        rmSync(journal);
      }

      // Act
      const second = tasks();
      const two = new LocalStepFunctions({ ...options, resolveTask: second.resolveTask });
      const resumed = two.resumeRunning();
      await settle(two, executionArn);
      await two.close();
      const three = new LocalStepFunctions({ ...options, resolveTask: tasks().resolveTask });

      // Assess
      expect(resumed, damage).toBe(1);
      expect(second.calls, damage).toEqual(['finish']);
      expect(three.describeExecution({ executionArn }), damage).toMatchObject({
        status: 'SUCCEEDED',
        output: '"done"',
      });
      const events = three.getExecutionHistory({ executionArn, maxResults: 1000 }).events;
      expect(
        events.map((e) => e.id),
        damage,
      ).toEqual(events.map((_, i) => i + 1));
      expect(events.at(-1)?.type, damage).toBe('ExecutionSucceeded');
      expect(readdirSync(join(dir, 'Test')), damage).toEqual(['interrupted.journal']);
      const broken = readFileSync(journal, 'utf8')
        .trim()
        .split('\n')
        .filter((line) => {
          try {
            return !JSON.parse(line);
          } catch {
            return true;
          }
        });
      expect(broken, damage).toEqual(damage === 'cut short' ? ['{"id":99,"type":"TaskSt'] : []);
      await three.close();
    }
  });

  it('keep a closed execution name taken after a restart', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sfn-'));
    dirs.push(dir);
    const options = { stateMachines: [{ arn: ARN, definition: DEFINITION }], persistDir: dir };
    const one = new LocalStepFunctions({ ...options, resolveTask: tasks().resolveTask });
    const { executionArn } = one.startExecution({
      stateMachineArn: ARN,
      name: 'once',
      input: '{"items":[]}',
    });
    await settle(one, executionArn);
    await one.close();

    // Act
    const two = new LocalStepFunctions({ ...options, resolveTask: tasks().resolveTask });
    const again = () =>
      two.startExecution({ stateMachineArn: ARN, name: 'once', input: '{"items":[]}' });

    // Assess
    expect(again).toThrow(expect.objectContaining({ name: 'ExecutionAlreadyExists' }));
    expect(two.listExecutions({ stateMachineArn: ARN }).executions).toEqual([
      expect.objectContaining({ name: 'once', status: 'SUCCEEDED' }),
    ]);
    await two.close();
  });
});

describe('the history of a stopped or caught state', () => {
  it('goes on after a restart where the Catch of a finished state went, not at its Next', () => {
    // Prepare: Claim failed, was caught to RecordDuplicate, and the process died right after.
    const history = [
      { type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Claim', input: '{"a":1}' } },
      {
        type: 'TaskStateExited',
        next: 'RecordDuplicate',
        stateExitedEventDetails: { name: 'Claim', output: '{"a":1,"error":{}}' },
      },
    ].map((event, i) => ({ id: i + 1, previousEventId: i, timestamp: i, ...event }));
    const states = { Claim: { Next: 'Route' }, RecordDuplicate: {}, Route: {} };

    // Act
    const point = resumePoint(states, history);

    // Assess
    expect(point).toEqual({ state: 'RecordDuplicate', input: { a: 1, error: {} } });
  });

  it('records one ExecutionAborted for a StopExecution, and refuses a name with a slash', async () => {
    // Prepare
    const { state, resolveTask } = tasks();
    state.finish = () => new Promise(() => {});
    const sfn = new LocalStepFunctions({
      stateMachines: [{ arn: ARN, definition: DEFINITION }],
      resolveTask,
    });
    const { executionArn } = sfn.startExecution({ stateMachineArn: ARN, input: '{"items":[]}' });
    while (!entered(sfn, executionArn).includes('Finish')) {
      await new Promise((wake) => setTimeout(wake, 5));
    }

    // Act
    sfn.stopExecution({ executionArn, error: 'Ops', cause: 'stopped by hand' });
    const stopped = await settle(sfn, executionArn);
    const badName = () =>
      sfn.startExecution({ stateMachineArn: ARN, name: '../escape', input: '{}' });

    // Assess
    expect(stopped).toMatchObject({ status: 'ABORTED', error: 'Ops', cause: 'stopped by hand' });
    const types = sfn
      .getExecutionHistory({ executionArn, maxResults: 1000 })
      .events.map((e) => e.type);
    expect(types.filter((type) => type === 'ExecutionAborted')).toHaveLength(1);
    expect(badName).toThrow(expect.objectContaining({ name: 'InvalidName' }));
    await sfn.close();
  });
});

describe('validating a definition', () => {
  it('refuses one that is invalid on every start: only a valid one is remembered', () => {
    const broken = {
      ...DEFINITION,
      States: { ...DEFINITION.States, Finish: { ...DEFINITION.States.Finish, Next: 'Nowhere' } },
    };
    const start = () =>
      new LocalStepFunctions({
        stateMachines: [{ arn: ARN, definition: structuredClone(broken) }],
        resolveTask: () => async () => null,
      });
    expect(start).toThrow(/State machine definition is invalid/);
    expect(start).toThrow(/State machine definition is invalid/);
    const valid = () =>
      new LocalStepFunctions({
        stateMachines: [{ arn: ARN, definition: structuredClone(DEFINITION) }],
        resolveTask: () => async () => null,
      });
    expect(valid).not.toThrow();
    expect(valid).not.toThrow();
  });
});
