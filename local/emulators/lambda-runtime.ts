import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { build, stop } from 'esbuild';
import type { FunctionDefinition } from '../../functions/registry.ts';
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
  current?: Invocation;
  discarded?: boolean;
}

/** Bundles under way in this process, so the last one to finish stops esbuild. */
let bundling = 0;

/**
 * Bundles each handler with esbuild, as CDK's NodejsFunction does for Lambda, so an environment
 * starts by loading one JS file instead of compiling TypeScript. Packages stay external and
 * resolve from the project's node_modules, which is why the bundles live under it.
 */
async function bundleHandlers(
  functions: readonly FunctionDefinition[],
): Promise<Map<string, string>> {
  const outdir = join(PROJECT_ROOT, 'node_modules', '.cache', 'sluice', 'functions');
  bundling++;
  try {
    await build({
      entryPoints: Object.fromEntries(
        functions.map((fn) => [fn.id, resolve(PROJECT_ROOT, fn.entry)]),
      ),
      outdir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: 'inline',
      logLevel: 'error',
    });
  } finally {
    // esbuild's service process would otherwise stay for the life of `sluice up` (about 30 MB);
    // stopping it under another stack's build in this process would fail that build.
    if (--bundling === 0) await stop();
  }
  return new Map(functions.map((fn) => [fn.id, join(outdir, `${fn.id}.mjs`)]));
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
  private closed = false;

  private constructor(
    private readonly options: LambdaRuntimeOptions,
    private readonly bundles: ReadonlyMap<string, string>,
  ) {
    this.byId = new Map(options.functions.map((fn) => [fn.id, fn]));
    mkdirSync(options.logDir, { recursive: true });
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
   * Starts one environment of every function that has none, in parallel, so a run about to use
   * them all does not pay each cold start in turn along the pipeline.
   */
  prewarm(): void {
    for (const fn of this.options.functions) {
      const pool = this.pool(fn);
      if (this.closed || pool.idle.length + pool.busy.size > 0) continue;
      // Idle at once: an invocation that takes it waits for it to be ready, as for any spawn.
      const environment = this.spawn(fn);
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

  private async acquire(fn: FunctionDefinition): Promise<Environment> {
    const pool = this.pool(fn);
    for (;;) {
      if (this.closed) throw new LambdaInvokeError('ServiceException', 'The local runtime stopped');
      const idle = pool.idle.pop();
      if (idle) {
        pool.busy.add(idle);
        return idle;
      }
      if (pool.busy.size < fn.concurrency) {
        const environment = this.spawn(fn);
        pool.busy.add(environment);
        return environment;
      }
      await new Promise<void>((wake) => {
        const queue = this.waiting.get(fn.id) ?? [];
        queue.push(wake);
        this.waiting.set(fn.id, queue);
      });
    }
  }

  private release(fn: FunctionDefinition, environment: Environment): void {
    const pool = this.pool(fn);
    pool.busy.delete(environment);
    if (environment.current === undefined && !environment.discarded && !this.closed) {
      pool.idle.push(environment);
    }
    this.waiting.get(fn.id)?.shift()?.();
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
    const worker = new Worker(WORKER, {
      workerData: {
        entry: this.bundles.get(fn.id),
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
      execArgv: ['--enable-source-maps'],
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
    environment.ready.catch(() => {});
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
