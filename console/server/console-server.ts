import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { planRedrive, planView as redrivePlanView, runRedrive } from '../../cli/ops/redrive.ts';
import { planReplay, planView as replayPlanView, runReplay } from '../../cli/ops/replay.ts';
import type { OpsTarget } from '../../cli/ops/target.ts';
import { cachedBuild } from '../../local/cached-build.js';
import { PROJECT_ROOT } from '../../local/project-root.ts';
import { fileDetail } from './file-detail.ts';
import { type FileFilters, FileIndex, type FileRow } from './file-index.ts';
import { groupFailures } from './triage.ts';

/** An execution that started, was redriven or closed, as the Step Functions API tells it. */
export interface ExecutionChange {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly status: string;
  readonly input: string;
  readonly startDate: number;
}

/** An upload event before it became an execution: waiting in the queue, or dead-lettered. */
export interface QueuedEvent {
  readonly messageId: string;
  /** The object key the event is about; null when the body is not an S3 event. */
  readonly key: string | null;
  readonly sentAt: string;
  readonly receiveCount: number;
  /** Why it was dead-lettered: the start function's last error. */
  readonly error?: string;
  readonly movedAt?: string;
}

/** Approximate message counts, as SQS's GetQueueAttributes gives them; null where unknown. */
export interface QueueCounts {
  /** Upload events waiting to be received (ApproximateNumberOfMessages). */
  readonly waiting: number | null;
  /** Received by the start function and not yet deleted (ApproximateNumberOfMessagesNotVisible). */
  readonly inFlight: number | null;
  /** In the dead-letter queue. */
  readonly deadLetters: number | null;
}

export interface UploadPath {
  readonly waiting: readonly QueuedEvent[];
  readonly deadLetters: readonly QueuedEvent[];
  /**
   * Counts instead of events, where a feed cannot list the events without receiving them (a
   * deployed stack); `waiting` and `deadLetters` are then empty.
   * @default - absent: `waiting` and `deadLetters` list every event
   */
  readonly counts?: QueueCounts;
}

/** What the console reads beyond the ops API: pushes where the Step Functions API only answers. */
export interface ConsoleFeed {
  /** Calls `watcher` on each execution change; returns a function that stops the calls. */
  watchExecutions(watcher: (change: ExecutionChange) => void): () => void;
  /** The upload queue and its dead-letter queue, read in memory (cheap to ask every second). */
  uploadPath(): UploadPath;
}

export interface ConsoleOptions {
  readonly target: OpsTarget;
  readonly feed: ConsoleFeed;
  /** On 127.0.0.1 only; 0 picks a free one. */
  readonly port: number;
}

export interface ConsoleServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  close(): Promise<void>;
}

/** The page's own addresses: every other path under /api is a 404, any other path the page. */
const PAGES = new Set(['/', '/file', '/triage']);
const UPLOAD_PATH_CHECK_MS = 1000;
/** Files closed while no page listened, kept to be read later; past that, the whole ledger is. */
const CLOSED_KEPT = 10_000;
/** Nothing off the machine: the page's scripts, styles and images are all its own. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

/** The console's port is taken. */
export class ConsolePortInUse extends Error {
  override readonly name = 'ConsolePortInUse';
  constructor(readonly port: number) {
    super(`the console's port ${port} on 127.0.0.1 is already in use`);
  }
}

/** The web page, bundled once per change of its sources. */
async function buildAssets(): Promise<string> {
  return cachedBuild(
    PROJECT_ROOT,
    join(PROJECT_ROOT, 'node_modules', '.cache', 'sluice', 'console'),
    {
      entryPoints: ['console/web/main.tsx'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      minify: true,
      jsx: 'automatic',
      jsxImportSource: 'preact',
      sourcemap: 'linked',
      sourcesContent: false,
      entryNames: 'app',
    },
  );
}

/** A replay or redrive runs on after its request answered: what fails is logged. */
const logFailure = (what: string) => (error: Error) => {
  process.stderr.write(`sluice console: the ${what} failed: ${error.message}\n`);
};

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new BadRequest('the request body is over 1 MiB');
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error();
    return value as Record<string, unknown>;
  } catch {
    throw new BadRequest('the request body is not a JSON object');
  }
}

function strings(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string')) {
    throw new BadRequest(`"${field}" must be a non-empty array of strings`);
  }
  return value as string[];
}

function filtersOf(query: URLSearchParams): FileFilters {
  const time = (name: string) => {
    const value = query.get(name) || undefined;
    if (value !== undefined && Number.isNaN(Date.parse(value))) {
      throw new BadRequest(`"${name}" is not a time: ${value}`);
    }
    return value;
  };
  return {
    statuses: (query.get('status') ?? '').split(',').filter(Boolean),
    dataset: query.get('dataset') || undefined,
    prefix: query.get('prefix') || undefined,
    error: query.get('error') || undefined,
    since: time('since'),
    until: time('until'),
  };
}

/**
 * The sluice console: a page on 127.0.0.1 and the JSON it reads, over one ops target. Changes
 * are pushed to open pages as server-sent events: `files` with the rows that changed, `path`
 * with the upload queue when it changed.
 */
export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const { target, feed } = options;
  // The ledger is read while the page is bundled: the first page waits for both.
  const index = new FileIndex(target);
  void index.load().catch((error: Error) => {
    process.stderr.write(`sluice console: reading the ledger failed: ${error.message}\n`);
  });
  const assets = await buildAssets();
  const html = readFileSync(join(PROJECT_ROOT, 'console', 'web', 'index.html'));
  const listeners = new Set<ServerResponse>();
  const runs = new AbortController();

  const broadcast = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const listener of listeners) listener.write(frame);
  };
  const processFile = target.names.stateMachines.ProcessFile;
  // One key's changes at a time, in order, so a start never lands after its close.
  let changes: Promise<void> = Promise.resolve();
  const inOrder = <T>(change: () => Promise<T>): Promise<T> => {
    const done = changes.then(change);
    changes = done.then(
      () => {},
      () => {},
    );
    return done;
  };
  // A close while no page listens is only noted, and read from the ledger when a page next
  // asks or listens: `sluice run` serves the console too, and reading each file's items as it
  // closed, for no one, cost about 7 % of a 300-file run.
  const closed = new Map<string, { readonly bucket: string; readonly key: string }>();
  let closedTooMany = false;
  /** The rows of what closed unread (none when the whole ledger was read again); null if none. */
  const catchUp = (): Promise<FileRow[] | null> =>
    inOrder(async () => {
      if (closed.size === 0 && !closedTooMany) return null;
      const files = [...closed.values()];
      const again = closedTooMany;
      closed.clear();
      closedTooMany = false;
      try {
        if (!again) {
          const rows = await Promise.all(files.map((f) => index.refresh(f.bucket, f.key)));
          return rows.flat();
        }
        index.forget();
        await index.load();
        return [];
      } catch (error) {
        closedTooMany = true; // read everything on the next try
        throw error;
      }
    });
  const stopWatching = feed.watchExecutions((change) => {
    if (change.stateMachineArn !== processFile) return;
    const file =
      change.status === 'RUNNING'
        ? undefined
        : (JSON.parse(change.input) as { file?: { bucket: string; key: string } }).file;
    if (file && listeners.size === 0) {
      if (closed.size < CLOSED_KEPT) closed.set(`${file.bucket}\0${file.key}`, file);
      else closedTooMany = true;
      return;
    }
    void inOrder(async () => {
      try {
        const rows: FileRow[] = [];
        if (change.status === 'RUNNING') {
          const row = await index.started(
            change.executionArn,
            change.input,
            new Date(change.startDate),
          );
          if (row) rows.push(row);
        } else if (file) {
          rows.push(...(await index.refresh(file.bucket, file.key)));
        }
        if (rows.length > 0) broadcast('files', { rows });
      } catch (error) {
        process.stderr.write(
          `sluice console: ${change.executionArn}: ${(error as Error).message}\n`,
        );
      }
    });
  });
  let lastPath = '';
  const pathTimer = setInterval(() => {
    // Reading the queue parses each waiting event: not for no one.
    if (listeners.size === 0) return;
    const path = feed.uploadPath();
    const signature = JSON.stringify(path);
    if (signature === lastPath) return;
    lastPath = signature;
    broadcast('path', path);
  }, UPLOAD_PATH_CHECK_MS);
  pathTimer.unref();

  const api = async (request: IncomingMessage, response: ServerResponse, url: URL) => {
    const query = url.searchParams;
    const route = `${request.method} ${url.pathname}`;
    switch (route) {
      case 'GET /api/files': {
        const offset = Math.max(0, Number(query.get('offset')) || 0);
        const limit = Math.min(500, Math.max(1, Number(query.get('limit')) || 100));
        await catchUp();
        return send(response, 200, await index.query(filtersOf(query), offset, limit));
      }
      case 'GET /api/file': {
        const key = query.get('key');
        if (!key) throw new BadRequest('"key" is required');
        return send(
          response,
          200,
          await fileDetail(target, key, query.get('execution') ?? undefined),
        );
      }
      case 'GET /api/object': {
        const key = query.get('key');
        if (!key) throw new BadRequest('"key" is required');
        const object = await target.s3.send(
          new GetObjectCommand({ Bucket: target.names.bucket, Key: key }),
        );
        response.writeHead(200, {
          'content-type': object.ContentType ?? 'application/octet-stream',
          ...(object.ContentLength !== undefined
            ? { 'content-length': String(object.ContentLength) }
            : {}),
          'x-content-type-options': 'nosniff',
          // An object is shown, never run: no script in an SVG or an HTML upload runs here.
          'content-security-policy':
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
          'cache-control': 'no-cache',
        });
        (object.Body as Readable).pipe(response);
        return;
      }
      case 'GET /api/triage':
        await catchUp();
        return send(response, 200, { groups: groupFailures(await index.failures()) });
      case 'GET /api/path':
        return send(response, 200, feed.uploadPath());
      case 'GET /api/events': {
        response.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        response.write('event: hello\ndata: {}\n\n');
        listeners.add(response);
        request.on('close', () => listeners.delete(response));
        // What closed before it listened is pushed now (after a reread ledger, no rows: only
        // the news that the list changed).
        const rows = await catchUp().catch((error: Error) => {
          process.stderr.write(`sluice console: reading the ledger failed: ${error.message}\n`);
          return [];
        });
        if (rows) broadcast('files', { rows });
        return;
      }
      case 'POST /api/replay': {
        const body = await readBody(request);
        const keys = strings(body.keys, 'keys');
        const plan = (await Promise.all(keys.map((key) => planReplay(target, key)))).flat();
        if (body.confirm === true) {
          void runReplay(target, plan, runs.signal).catch(logFailure('replay'));
        }
        return send(response, 200, {
          confirmed: body.confirm === true,
          rerun: 'a replay is a new ProcessFile execution: every state runs again',
          plan: plan.map(replayPlanView),
        });
      }
      case 'POST /api/redrive': {
        const body = await readBody(request);
        const executionArns = strings(body.executionArns, 'executionArns');
        const plan = await planRedrive(target, { executionArns });
        if (body.confirm === true) {
          void runRedrive(target, plan, runs.signal).catch(logFailure('redrive'));
        }
        return send(response, 200, {
          confirmed: body.confirm === true,
          rerun: 'a redrive runs the execution again from the state it stopped in',
          plan: plan.map(redrivePlanView),
        });
      }
      default:
        return send(response, 404, { error: { name: 'NotFound', message: `no ${route}` } });
    }
  };

  const assetTypes: Record<string, string> = {
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.map': 'application/json',
  };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    try {
      if (url.pathname.startsWith('/api/')) return await api(request, response, url);
      const asset = /^\/assets\/(app\.(?:js|css)(?:\.map)?)$/.exec(url.pathname)?.[1];
      if (asset) {
        const type = assetTypes[asset.slice(asset.lastIndexOf('.'))] ?? 'text/plain';
        response.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' });
        response.end(readFileSync(join(assets, asset)));
        return;
      }
      if (url.pathname === '/favicon.ico') {
        response.writeHead(204).end();
        return;
      }
      if (request.method === 'GET' && PAGES.has(url.pathname)) {
        response.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': CSP,
          'cache-control': 'no-cache',
        });
        response.end(html);
        return;
      }
      send(response, 404, { error: { name: 'NotFound', message: `no page ${url.pathname}` } });
    } catch (error) {
      const failure = error as Error;
      const status =
        failure.name === 'BadRequest' || failure.name === 'InvalidOption'
          ? 400
          : /^(UnknownFile|UnknownExecution|NoSuchKey|NotFound)$/.test(failure.name)
            ? 404
            : 500;
      if (!response.headersSent) {
        send(response, status, { error: { name: failure.name, message: failure.message } });
      } else {
        response.destroy(failure);
      }
    }
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    stopWatching();
    clearInterval(pathTimer);
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? new ConsolePortInUse(options.port)
      : error;
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      stopWatching();
      clearInterval(pathTimer);
      runs.abort();
      for (const listener of listeners) listener.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await changes;
    },
  };
}
