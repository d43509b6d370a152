import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** The file in the data dir that says where a running `sluice up` answers. */
/** Where sluice keeps its local state unless told otherwise: `sluice run`, `up` and the ops commands. */
export const DEFAULT_DATA_DIR = '.sluice';

export const ENDPOINT_FILE = 'endpoint.json';
/** The file in the data dir that says which process owns it. */
export const LOCK_FILE = 'sluice.lock';

/**
 * `endpoint.json`: a public contract that the ops CLI, the console and scripts read to find a
 * running stack. Fields may be added; none is ever renamed or removed.
 */
export interface EndpointInfo {
  /** The one endpoint every AWS API answers on: `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly table: string;
  readonly stream: string;
  /** State machine ARNs by their short name (`ProcessFile`). */
  readonly stateMachines: Readonly<Record<string, string>>;
  /** The upload queue's and its dead-letter queue's URLs, for the SQS API on the same endpoint. */
  readonly queues: { readonly uploads: string; readonly deadLetters: string };
  /** The SNS topic that failed files and batches over tolerance publish their notices to. */
  readonly noticeTopic?: string;
  /** The console's page, `http://127.0.0.1:<port>/`; absent when started without one. */
  readonly console?: string;
  /** The HTTP API's URL, `http://127.0.0.1:<port>` (routes hang off it); absent without one. */
  readonly api?: string;
  /** The bearer token the HTTP API takes: `--api-token`, or one generated at start. */
  readonly apiToken?: string;
  /** The process that serves the endpoint; the file is stale once it has exited. */
  readonly pid: number;
  /** Where each function's log goes (`<logDir>/<function id>.log`). */
  readonly logDir: string;
  readonly dataDir: string;
  /** ISO time the endpoint was ready. */
  readonly startedAt: string;
  readonly version: string;
}

/** No `sluice up` answers for a data dir: endpoint.json is missing, or its process is gone. */
export class NoRunningStack extends Error {
  override name = 'NoRunningStack';
  constructor(
    readonly dataDir: string,
    detail?: string,
  ) {
    super(
      `no sluice is running for ${dataDir}${detail ? ` (${detail})` : ''}: start one with \`sluice up --data-dir ${dataDir}\``,
    );
  }
}

/** endpoint.json exists but is not what a sluice writes. */
export class InvalidEndpointFile extends Error {
  override name = 'InvalidEndpointFile';
}

/** Another live process holds the data dir's lock. */
export class DataDirInUse extends Error {
  override name = 'DataDirInUse';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `another sluice (pid ${pid}) is using ${dataDir}; stop it first, or use another --data-dir`,
    );
  }
}

/**
 * Whether a process exists. EPERM means it does, under another user. A zombie (exited, not yet
 * reaped by its parent) counts as gone: it will never answer or write again.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ...", where comm may itself hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // No procfs (macOS): kill(0) has answered.
    return true;
  }
}

export const endpointFilePath = (dataDir: string): string => join(dataDir, ENDPOINT_FILE);

/**
 * Writes endpoint.json atomically (a temporary file renamed over it), so a reader never sees
 * half of it.
 */
export function writeEndpointFile(dataDir: string, info: EndpointInfo): void {
  mkdirSync(dataDir, { recursive: true });
  const path = endpointFilePath(dataDir);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(temporary, path);
}

/**
 * Reads a running stack's endpoint.json.
 * @throws NoRunningStack when it is missing or the process that wrote it has exited.
 * @throws InvalidEndpointFile when it is not JSON with an endpoint and a pid.
 */
export function readEndpointFile(dataDir: string): EndpointInfo {
  let text: string;
  try {
    text = readFileSync(endpointFilePath(dataDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NoRunningStack(dataDir);
    throw error;
  }
  let info: EndpointInfo;
  try {
    info = JSON.parse(text) as EndpointInfo;
  } catch {
    throw new InvalidEndpointFile(`${endpointFilePath(dataDir)} is not JSON`);
  }
  if (typeof info?.endpoint !== 'string' || typeof info.pid !== 'number') {
    throw new InvalidEndpointFile(`${endpointFilePath(dataDir)} has no endpoint and pid`);
  }
  if (!isProcessAlive(info.pid)) {
    throw new NoRunningStack(
      dataDir,
      `the sluice that wrote endpoint.json, pid ${info.pid}, has exited`,
    );
  }
  return info;
}

/**
 * Removes endpoint.json if this process wrote it: a newer sluice may have replaced a stale one.
 */
export function removeEndpointFile(dataDir: string, pid: number = process.pid): void {
  const path = endpointFilePath(dataDir);
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<EndpointInfo>;
    if (info.pid !== pid) return;
  } catch {
    // Missing or unreadable: nothing of ours to remove.
    return;
  }
  rmSync(path, { force: true });
}

/** A held data-dir lock. */
export interface DataDirLock {
  readonly path: string;
  /** Removes the lock if it is still ours (idempotent). */
  release(): void;
}

/** Locks this process holds, so its own pid in a lock file can tell a live lock from a stale one. */
const held = new Set<string>();

const readLockPid = (path: string): number | undefined => {
  const text = readFileSync(path, 'utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : undefined;
};

/**
 * Takes `<dataDir>/sluice.lock` (created with O_EXCL, holding the pid), so two processes never
 * run a stack over the same files. A lock whose process has exited is taken over; so is one
 * naming this process's pid that this process does not hold (a restarted container reuses pids).
 * @throws DataDirInUse when a live process holds it.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  // A few rounds: a lock can be seen half-written (created, pid not yet in it) or taken over.
  for (let attempt = 0; attempt < 50; attempt++) {
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      held.add(path);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          held.delete(path);
          try {
            if (readLockPid(path) === process.pid) rmSync(path, { force: true });
          } catch {
            // Already gone.
          }
        },
      };
    }

    let pid: number | undefined;
    try {
      pid = readLockPid(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (pid === undefined) {
      // Created, its pid not written yet: give the writer a moment, then treat it as abandoned.
      if (attempt < 10) {
        sleep(20);
        continue;
      }
    } else if (pid === process.pid ? held.has(path) : isProcessAlive(pid)) {
      throw new DataDirInUse(dataDir, pid);
    }
    // Stale. Look once more right before removing it, so a lock another starter has just
    // taken over is left alone.
    try {
      if (readLockPid(path) !== pid) continue;
      rmSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(`could not take ${path}: it keeps changing`);
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
