import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BUNDLING, type FunctionDefinition } from '../../functions/registry.ts';
import { cachedBuild, touchBuild } from '../cached-build.js';
import { PROJECT_ROOT } from '../project-root.ts';

const WORKER = join(PROJECT_ROOT, 'local', 'emulators', 'lambda-worker.js');

/** An error as Lambda reports it: `name` is the errorType that ASL Retry and Catch match. */
export class LambdaInvokeError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly trace: readonly string[] = [],
  ) {
    super(message);
  }

  /** The Cause string Step Functions gets from a failed Lambda task. */
  toCause(): string {
    return JSON.stringify({ errorType: this.name, errorMessage: this.message, trace: this.trace });
  }
}

/**
 * An error of Lambda's API itself (throttling, a service fault, a lost connection), not of the
 * function: Step Functions names it `Lambda.<code>`, and the function may or may not have run.
 */
export class LambdaServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

interface Invocation {
  readonly requestId: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Environment {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  /** Its handler module is loaded (or failed to load). */
  started?: boolean;
  /** When it last went idle (or was started idle); the reaper ends it after the idle timeout. */
  idleSince?: number;
  /** When its current invocation took it. */
  busySince?: number;
  current?: Invocation;
  discarded?: boolean;
}

/**
 * When another environment of a busy function starts. Lambda starts one for every concurrent
 * invocation, but here every environment shares the machine's cores, and each start costs
 * 150-300 ms of CPU and 20-30 MB: a burst of short invocations on a busy machine runs no faster
 * on twenty environments than on one per function. So, within the registry concurrency and
 * never while one of the function is still starting, one starts:
 * - when every busy one has been on its invocation for `longMs`, so that long work (a large
 *   file) does not hold up the short invocations behind it. While this process leaves fewer than
 *   `idleCores` idle, that is `saturatedLongMs` instead: waiting for a core stretches a 30 ms
 *   invocation past 250 ms, and on 1,000 small files the environments started for such waits
 *   (up to three a run) added about 100 MB of peak RSS and no speed;
 * - when an invocation has waited `waitMs` while this process left `idleCores` cores idle, so
 *   that the new environment has a core of its own (on a larger machine, a burst uses it).
 * Idle cores are judged over half a second: over 100 ms, a brief stall of the whole process read
 * as idle cores, and started four environments at once. On 1,000 small files on two cores, the
 * one environment per function that pre-warming starts now serves the whole run.
 */
export interface ScaleOut {
  readonly longMs: number;
  readonly saturatedLongMs: number;
  readonly waitMs: number;
  readonly idleCores: number;
}

const SCALE_OUT: ScaleOut = { longMs: 250, saturatedLongMs: 1000, waitMs: 50, idleCores: 1 };

/** How many of the machine's cores this process left idle, over at least the last 500 ms. */
class IdleCores {
  private readonly cores = availableParallelism();
  private at = performance.now();
  private used = process.cpuUsage();
  private idle = this.cores;

  measure(): number {
    const now = performance.now();
    if (now - this.at >= 500) {
      const { user, system } = process.cpuUsage(this.used);
      this.idle = this.cores - (user + system) / 1000 / (now - this.at);
      this.at = now;
      this.used = process.cpuUsage();
    }
    return this.idle;
  }
}

/**
 * How long an environment may sit idle before it is ended, as Lambda reclaims idle ones. Lambda
 * waits some minutes; on one machine the 20-30 MB each holds matter more than the cold start
 * the next invocation pays, so a long `sluice up` gives back what a burst started.
 */
export const IDLE_TIMEOUT_MS = 60_000;

/**
 * Bundles each handler as CDK's NodejsFunction does for Lambda (the registry's BUNDLING), so an
 * environment starts by loading one file: with the SDK inside it, that takes about a third less
 * CPU and memory than resolving and compiling hundreds of CommonJS files from node_modules.
 * `nodeModules` stay outside and resolve from the project's node_modules, which is why the
 * bundles live under it. Source maps carry no sources: stack traces need only the mappings.
 *
 * Unlike on Lambda, the bundles are CommonJS: Node 20 keeps V8's code cache only for scripts
 * (see lambda-worker.js), and the cache halves a cold start. V8 drops a cached script's
 * dynamic-import hook, so `import()` becomes `require()`. Node 22's `module.enableCompileCache()`
 * caches ES modules too, and would let these go back to the registry's format.
 */
async function bundleHandlers(
  functions: readonly FunctionDefinition[],
): Promise<Map<string, string>> {
  const outdir = await cachedBuild(
    PROJECT_ROOT,
    join(PROJECT_ROOT, 'node_modules', '.cache', 'sluice', 'functions'),
    {
      ...BUNDLING,
      format: 'cjs',
      banner: {},
      supported: { 'dynamic-import': false },
      mainFields: [...BUNDLING.mainFields],
      entryPoints: Object.fromEntries(functions.map((fn) => [fn.id, fn.entry])),
      external: [...new Set(functions.flatMap((fn) => fn.nodeModules ?? []))],
      outExtension: { '.js': '.cjs' },
      bundle: true,
      platform: 'node',
      target: 'node20',
      sourcemap: 'linked',
      sourcesContent: false,
    },
  );
  return new Map(functions.map((fn) => [fn.id, join(outdir, `${fn.id}.cjs`)]));
}

export interface LambdaRuntimeOptions {
  readonly functions: readonly FunctionDefinition[];
  /** Env of every function beyond its registry env: endpoints, region, credentials. */
  readonly baseEnv: Readonly<Record<string, string>>;
  /** Env per function id, from the registry's access list. */
  readonly envFor: (fn: FunctionDefinition) => Record<string, string>;
  readonly functionName: (fn: FunctionDefinition) => string;
  /** Each function's stdout and stderr go to `<logDir>/<id>.log`. */
  readonly logDir: string;
  readonly region: string;
  readonly account: string;
  /** @default SCALE_OUT */
  readonly scaleOut?: Partial<ScaleOut>;
  /** @default IDLE_TIMEOUT_MS */
  readonly idleTimeoutMs?: number;
}

/**
 * The local Lambda service: each function gets warm execution environments (worker threads) up
 * to its registry concurrency, a real context, its registry env and memory, and its timeout.
 * A crash or timeout ends that environment only, as on Lambda, never the caller.
 */
export class LocalLambdaRuntime {
  private readonly pools = new Map<string, { idle: Environment[]; busy: Set<Environment> }>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly logs = new Map<string, WriteStream>();
  private readonly byId: Map<string, FunctionDefinition>;
  private inFlightCount = 0;
  private readonly idleCores = new IdleCores();
  private closed = false;
  private readonly reaper: NodeJS.Timeout;

  private constructor(
    private readonly options: LambdaRuntimeOptions,
    private readonly bundles: ReadonlyMap<string, string>,
  ) {
    this.byId = new Map(options.functions.map((fn) => [fn.id, fn]));
    mkdirSync(options.logDir, { recursive: true });
    const idleMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.reaper = setInterval(() => this.reap(idleMs), Math.min(idleMs / 2, 30_000));
    // A reaper alone keeps no process alive.
    this.reaper.unref();
  }

  /** Bundles every handler, then serves invocations. */
  static async create(options: LambdaRuntimeOptions): Promise<LocalLambdaRuntime> {
    return new LocalLambdaRuntime(options, await bundleHandlers(options.functions));
  }

  /** Invocations under way or waiting for an environment. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  logFile(id: string): string {
    return join(this.options.logDir, `${id}.log`);
  }

  /**
   * Starts one environment of each function named (all by default) that has none, in parallel,
   * so a run about to use them does not pay each cold start in turn along the pipeline.
   */
  prewarm(ids: readonly string[] = [...this.byId.keys()]): void {
    for (const id of ids) {
      const fn = this.byId.get(id);
      if (!fn) continue;
      const pool = this.pool(fn);
      if (this.closed || pool.idle.length + pool.busy.size > 0) continue;
      // Idle at once: an invocation that takes it waits for it to be ready, as for any spawn.
      const environment = this.spawn(fn);
      environment.idleSince = Date.now();
      pool.idle.push(environment);
    }
  }

  /** Invokes a function synchronously (RequestResponse) and resolves to its result. */
  async invoke(id: string, event: unknown): Promise<unknown> {
    const fn = this.byId.get(id);
    if (!fn) throw new LambdaInvokeError('ResourceNotFoundException', `No function ${id}`);
    this.inFlightCount++;
    try {
      const environment = await this.acquire(fn);
      try {
        return await this.run(fn, environment, event);
      } finally {
        this.release(fn, environment);
      }
    } finally {
      this.inFlightCount--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    const workers = [...this.pools.values()].flatMap((pool) => [...pool.idle, ...pool.busy]);
    await Promise.all(workers.map((environment) => environment.worker.terminate()));
    await Promise.all(
      [...this.logs.values()].map((log) => new Promise<void>((done) => log.end(done))),
    );
  }

  private pool(fn: FunctionDefinition) {
    let pool = this.pools.get(fn.id);
    if (!pool) {
      pool = { idle: [], busy: new Set() };
      this.pools.set(fn.id, pool);
    }
    return pool;
  }

  /** An idle environment, or a new one within the function's concurrency (see SCALE_OUT). */
  private async acquire(fn: FunctionDefinition): Promise<Environment> {
    const pool = this.pool(fn);
    const { longMs, saturatedLongMs, waitMs, idleCores } = {
      ...SCALE_OUT,
      ...this.options.scaleOut,
    };
    const since = Date.now();
    for (;;) {
      if (this.closed) throw new LambdaInvokeError('ServiceException', 'The local runtime stopped');
      const now = Date.now();
      const idle = pool.idle.pop();
      if (idle) {
        idle.busySince = now;
        pool.busy.add(idle);
        return idle;
      }
      const busy = [...pool.busy];
      const starting = busy.some((environment) => !environment.started);
      const youngest = Math.max(...busy.map((environment) => environment.busySince ?? now));
      const spareCore = this.idleCores.measure() >= idleCores;
      const long = spareCore ? longMs : saturatedLongMs;
      const scaleOut =
        busy.length === 0 ||
        (!starting && (now - youngest >= long || (now - since >= waitMs && spareCore)));
      if (busy.length < fn.concurrency && scaleOut) {
        const environment = this.spawn(fn);
        environment.busySince = now;
        pool.busy.add(environment);
        return environment;
      }
      // Look again when the busy ones turn long, or the wait is over (then as often as that).
      const untilLong = starting ? long : long - (now - youngest);
      const untilWaited = waitMs - (now - since) > 0 ? waitMs - (now - since) : waitMs;
      await this.nextRelease(
        fn,
        busy.length < fn.concurrency ? Math.max(1, Math.min(untilLong, untilWaited)) : undefined,
      );
    }
  }

  /** Resolves when an environment of `fn` is released, or after `timeoutMs`. */
  private nextRelease(fn: FunctionDefinition, timeoutMs: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const queue = this.waiting.get(fn.id) ?? [];
      this.waiting.set(fn.id, queue);
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              // Out of the queue, so that a release wakes a caller that is still waiting.
              queue.splice(queue.indexOf(wake), 1);
              resolve();
            }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      queue.push(wake);
    });
  }

  private release(fn: FunctionDefinition, environment: Environment): void {
    const pool = this.pool(fn);
    pool.busy.delete(environment);
    if (environment.current === undefined && !environment.discarded && !this.closed) {
      environment.idleSince = Date.now();
      pool.idle.push(environment);
    }
    this.waiting.get(fn.id)?.shift()?.();
  }

  /** Ends the environments idle for `idleMs` or longer; the next invocation starts cold. */
  private reap(idleMs: number): void {
    const now = Date.now();
    for (const [id, pool] of this.pools) {
      const fn = this.byId.get(id);
      if (!fn) continue;
      for (const environment of pool.idle) {
        if (now - (environment.idleSince ?? now) >= idleMs) this.discard(fn, environment);
      }
    }
  }

  private discard(fn: FunctionDefinition, environment: Environment): void {
    if (environment.discarded) return;
    environment.discarded = true;
    const pool = this.pool(fn);
    pool.busy.delete(environment);
    pool.idle = pool.idle.filter((candidate) => candidate !== environment);
    void environment.worker.terminate();
  }

  private log(fn: FunctionDefinition): WriteStream {
    let log = this.logs.get(fn.id);
    if (!log) {
      log = createWriteStream(this.logFile(fn.id), { flags: 'a' });
      this.logs.set(fn.id, log);
    }
    return log;
  }

  private spawn(fn: FunctionDefinition): Environment {
    const { options } = this;
    const functionName = options.functionName(fn);
    const entry = this.bundles.get(fn.id) ?? '';
    try {
      touchBuild(dirname(entry)); // still in use: no newer build may prune it
    } catch {
      // Pruned after all: the environment reports the missing module as its init error.
    }
    const worker = new Worker(WORKER, {
      workerData: {
        entry,
        functionName,
        memorySize: fn.memorySize,
        region: options.region,
        account: options.account,
        workerId: randomUUID(),
      },
      env: {
        ...options.baseEnv,
        ...options.envFor(fn),
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      },
      // No --enable-source-maps: the environment maps its own stack traces, when one is made.
      execArgv: [],
      stdout: true,
      stderr: true,
      // A small young generation: some 20 idle-most-of-the-time environments each kept up to
      // ~48 MB of it otherwise. Measured: 1,000 small files peak at 734 MB instead of 1.0–1.1 GB
      // in the same time, and a 1M-row CSV through the pipeline takes 5.25 s instead of 5.14 s.
      resourceLimits: { maxOldGenerationSizeMb: fn.memorySize, maxYoungGenerationSizeMb: 4 },
    });
    const log = this.log(fn);
    worker.stdout.pipe(log, { end: false });
    worker.stderr.pipe(log, { end: false });
    const environment: Environment = {
      worker,
      ready: new Promise<void>((ready, failed) => {
        worker.once('message', (message: { type: string; error?: SerializedError }) => {
          if (message.type === 'ready') ready();
          else failed(fromSerialized(message.error, 'Runtime.ImportModuleError'));
        });
      }),
    };
    environment.ready.then(
      () => {
        environment.started = true;
      },
      () => {
        environment.started = true;
      },
    );
    worker.on('message', (message: WorkerMessage) => {
      const current = environment.current;
      if (!current || message.requestId !== current.requestId) return;
      environment.current = undefined;
      clearTimeout(current.timer);
      if (message.type === 'result') current.resolve(message.result);
      else current.reject(fromSerialized(message.error, 'Error'));
    });
    const fail = (error: Error) => {
      const current = environment.current;
      environment.current = undefined;
      if (current) {
        clearTimeout(current.timer);
        current.reject(new LambdaInvokeError('Runtime.ExitError', error.message));
      }
      this.discard(fn, environment);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`Runtime exited with code ${code}`)));
    return environment;
  }

  private async run(fn: FunctionDefinition, environment: Environment, event: unknown) {
    await environment.ready.catch((error: Error) => {
      this.discard(fn, environment);
      throw error;
    });
    const requestId = randomUUID();
    const deadline = Date.now() + fn.timeoutSeconds * 1000;
    return new Promise((resolvePromise, rejectPromise) => {
      const timer = setTimeout(() => {
        environment.current = undefined;
        this.discard(fn, environment);
        rejectPromise(
          new LambdaInvokeError(
            'Sandbox.Timedout',
            `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
          ),
        );
      }, fn.timeoutSeconds * 1000);
      environment.current = { requestId, resolve: resolvePromise, reject: rejectPromise, timer };
      environment.worker.postMessage({ requestId, event, deadline });
    });
  }
}

interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: readonly string[];
}

type WorkerMessage =
  | { readonly type: 'result'; readonly requestId: string; readonly result: unknown }
  | { readonly type: 'error'; readonly requestId: string; readonly error: SerializedError };

function fromSerialized(error: SerializedError | undefined, fallback: string): LambdaInvokeError {
  return new LambdaInvokeError(
    error?.name ?? fallback,
    error?.message ?? 'Unknown error',
    error?.stack ?? [],
  );
}
