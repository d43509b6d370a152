import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LambdaInvokeError,
  type LambdaRuntimeOptions,
  LocalLambdaRuntime,
} from '#local/emulators/lambda-runtime.ts';
import { PROJECT_ROOT } from '#local/project-root.ts';
import type { FunctionDefinition } from '../../functions/registry.ts';

const probe: FunctionDefinition = {
  id: 'Probe',
  entry: 'test/fixtures/functions/probe.ts',
  description: 'test probe',
  memorySize: 128,
  timeoutSeconds: 1,
  concurrency: 2,
  access: [],
};

let runtime: LocalLambdaRuntime;
let logDir: string;

/** A runtime of the probe alone, logging to `logs`. */
const probeRuntime = (logs: string, options: Partial<LambdaRuntimeOptions> = {}) =>
  LocalLambdaRuntime.create({
    functions: [probe],
    baseEnv: { PATH: process.env.PATH ?? '' },
    envFor: () => ({}),
    functionName: (fn) => `sluice-${fn.id}`,
    logDir: logs,
    region: 'us-east-1',
    account: '000000000000',
    ...options,
  });

beforeAll(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'sluice-runtime-'));
  runtime = await probeRuntime(logDir, { envFor: () => ({ PROBE_VALUE: 'from-registry' }) });
});

afterAll(async () => {
  await runtime.close();
  rmSync(logDir, { recursive: true, force: true });
});

describe('the local Lambda runtime', () => {
  it('gives the handler a real context and its registry env, and stays warm', async () => {
    // Act
    const first = (await runtime.invoke('Probe', { action: 'echo' })) as Record<string, unknown>;
    const second = (await runtime.invoke('Probe', { action: 'echo' })) as Record<string, unknown>;

    // Assess
    expect(first).toMatchObject({
      functionName: 'sluice-Probe',
      env: 'from-registry',
      strict: true,
    });
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(second.requestId).not.toBe(first.requestId);
    expect(second.invocations).toBe(2);
  });

  it('reports a thrown error by its name, as Lambda reports errorType', async () => {
    // Act
    const failure = await runtime.invoke('Probe', { action: 'throw' }).catch((e: unknown) => e);

    // Assess
    expect(failure).toBeInstanceOf(LambdaInvokeError);
    expect((failure as LambdaInvokeError).name).toBe('ProbeFailure');
    expect(JSON.parse((failure as LambdaInvokeError).toCause())).toMatchObject({
      errorType: 'ProbeFailure',
      errorMessage: 'asked to fail',
    });
    // The trace points at the TypeScript line that threw, not at the bundle.
    expect((failure as LambdaInvokeError).trace[1]).toMatch(
      /^ {4}at .*\/test\/fixtures\/functions\/probe\.ts:27:\d+\)$/,
    );
  });

  it('ends an invocation at its timeout, and only that environment', async () => {
    // Act
    const [slow, fast] = await Promise.allSettled([
      runtime.invoke('Probe', { action: 'sleep', ms: 5000 }),
      runtime.invoke('Probe', { action: 'echo' }),
    ]);

    // Assess
    expect(slow.status === 'rejected' && (slow.reason as Error).name).toBe('Sandbox.Timedout');
    expect(fast.status).toBe('fulfilled');
    expect(await runtime.invoke('Probe', { action: 'echo' })).toMatchObject({
      env: 'from-registry',
    });
  });

  it('survives a handler that kills its environment', async () => {
    // Act
    const crash = await runtime.invoke('Probe', { action: 'crash' }).catch((e: unknown) => e);
    const after = await runtime.invoke('Probe', { action: 'echo' });

    // Assess
    expect((crash as Error).name).toBe('Runtime.ExitError');
    expect(after).toMatchObject({ functionName: 'sluice-Probe' });
  });

  it('runs at most the registry concurrency at once', async () => {
    // Act
    const results = (await Promise.all(
      Array.from({ length: 6 }, () => runtime.invoke('Probe', { action: 'sleep', ms: 400 })),
    )) as { environmentId: string }[];

    // Assess: six overlapping invocations, each longer than the scale-out time (250 ms), share
    // the two environments the registry allows.
    expect(results).toHaveLength(6);
    expect(new Set(results.map((result) => result.environmentId)).size).toBe(2);
  });

  it('keeps each function log in its own file under the log dir', () => {
    // Assess
    expect(readFileSync(runtime.logFile('Probe'), 'utf8')).toContain('"message":"probe invoked"');
  });
});

describe('pre-warming', () => {
  it('starts one environment per function, counted within its concurrency', async () => {
    // Prepare
    const warmLogs = mkdtempSync(join(tmpdir(), 'sluice-runtime-'));
    const warm = await probeRuntime(warmLogs);

    // Act: pre-warm twice, then three invocations at once.
    warm.prewarm();
    warm.prewarm();
    const results = (await Promise.all(
      [1, 2, 3].map(() => warm.invoke('Probe', { action: 'sleep', ms: 400 })),
    )) as { environmentId: string }[];
    await warm.close();
    rmSync(warmLogs, { recursive: true, force: true });

    // Assess: never more environments than the function's concurrency (2).
    expect(new Set(results.map((result) => result.environmentId)).size).toBe(2);
  });
});

describe('scaling out', () => {
  /** How many environments a fresh probe runtime used for `count` invocations sent at once. */
  async function environmentsUsed(
    scaleOut: LambdaRuntimeOptions['scaleOut'],
    count: number,
    payload: Record<string, unknown>,
  ): Promise<number> {
    const logs = mkdtempSync(join(tmpdir(), 'sluice-runtime-'));
    const scaling = await probeRuntime(logs, { scaleOut });
    try {
      const results = (await Promise.all(
        Array.from({ length: count }, () => scaling.invoke('Probe', payload)),
      )) as { environmentId: string }[];
      return new Set(results.map((result) => result.environmentId)).size;
    } finally {
      await scaling.close();
      rmSync(logs, { recursive: true, force: true });
    }
  }

  it('starts no second environment while short invocations can share the first', async () => {
    // Act: six invocations at once, before any environment exists. No rule can start a second
    // one within delays that no invocation here comes near, so the test does not depend on speed.
    const used = await environmentsUsed({ longMs: 60_000, waitMs: 60_000 }, 6, { action: 'echo' });

    // Assess: one environment served all six, within a concurrency of 2.
    expect(used).toBe(1);
  });

  it('waits longer before counting an invocation as long while no core is idle', async () => {
    // Act: three sleeps at once, each far past `longMs`. More idle cores are asked for than any
    // machine has, so the process always counts as saturated, and only the saturated threshold
    // (out of reach here) could start a second environment.
    const used = await environmentsUsed(
      { longMs: 50, saturatedLongMs: 60_000, waitMs: 60_000, idleCores: 1_000 },
      3,
      { action: 'sleep', ms: 300 },
    );

    // Assess: one environment took them in turn.
    expect(used).toBe(1);
  });

  it('starts a second environment for invocations that wait while cores sit idle', async () => {
    // Act: four sleeps at once, which leave this process's cores idle. Only the idle-core rule
    // can start one (no invocation counts as long).
    const used = await environmentsUsed({ longMs: 60_000, waitMs: 50 }, 4, {
      action: 'sleep',
      ms: 300,
    });

    // Assess: the function's concurrency (2), not one environment in turn.
    expect(used).toBe(2);
  });
});

describe('idle environments', () => {
  it('are ended after the idle timeout, and the next invocation starts a fresh one', async () => {
    // Prepare
    const logs = mkdtempSync(join(tmpdir(), 'sluice-runtime-idle-'));
    const reaping = await probeRuntime(logs, { idleTimeoutMs: 200 });
    try {
      const echo = async () =>
        ((await reaping.invoke('Probe', { action: 'echo' })) as { invocations: number })
          .invocations;
      expect(await echo()).toBe(1);
      expect(await echo()).toBe(2);

      // Act: idle past the timeout (the reaper looks every 100 ms)
      await new Promise((resolve) => setTimeout(resolve, 500));

      // Assess: a fresh environment counts from 1 again
      expect(await echo()).toBe(1);
    } finally {
      await reaping.close();
      rmSync(logs, { recursive: true, force: true });
    }
  });
});

describe('the code cache', () => {
  /** The probe's bundle file, built by the shared runtime's first invocation. */
  const probeBundle = async (): Promise<string> => {
    await runtime.invoke('Probe', { action: 'echo' });
    const builds = join(PROJECT_ROOT, 'node_modules', '.cache', 'sluice', 'functions');
    const [newest] = readdirSync(builds)
      .map((build) => join(builds, build, 'Probe.cjs'))
      .filter((bundle) => existsSync(bundle))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    if (!newest) throw new Error('no build of the probe');
    return newest;
  };

  /** The first answer of a runtime of its own, so of a new environment. */
  const freshEcho = async (): Promise<unknown> => {
    const logs = mkdtempSync(join(tmpdir(), 'sluice-runtime-cache-'));
    const fresh = await probeRuntime(logs);
    try {
      return await fresh.invoke('Probe', { action: 'echo' });
    } finally {
      await fresh.close();
      rmSync(logs, { recursive: true, force: true });
    }
  };

  it('is written beside the bundle by the first environment', async () => {
    // Prepare
    const cache = `${await probeBundle()}.v8cache`;
    rmSync(cache, { force: true });

    // Act
    const answer = await freshEcho();

    // Assess
    expect(answer).toMatchObject({ functionName: 'sluice-Probe', invocations: 1 });
    expect(statSync(cache).size).toBeGreaterThan(1000);
  });

  it('is written again when V8 rejects it, and the environment still starts', async () => {
    // Prepare
    const cache = `${await probeBundle()}.v8cache`;
    writeFileSync(cache, 'not a code cache');

    // Act
    const answer = await freshEcho();

    // Assess
    expect(answer).toMatchObject({ functionName: 'sluice-Probe', invocations: 1 });
    expect(readFileSync(cache).subarray(0, 16).toString()).not.toBe('not a code cache');
    expect(statSync(cache).size).toBeGreaterThan(1000);
  });

  it('is only a saving: an environment whose cache cannot be written still starts', async () => {
    // Prepare: a directory where the cache file goes, so reading and writing it both fail
    const cache = `${await probeBundle()}.v8cache`;
    rmSync(cache, { force: true });
    mkdirSync(cache);
    const scratches = () =>
      readdirSync(dirname(cache)).filter((name) => name.startsWith('Probe.cjs.v8cache.'));
    const before = scratches();
    try {
      // Act
      const answer = await freshEcho();

      // Assess
      expect(answer).toMatchObject({ functionName: 'sluice-Probe', invocations: 1 });
      expect(scratches()).toEqual(before); // no scratch file left behind
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
