import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DataDirInUse,
  type EndpointInfo,
  InvalidEndpointFile,
  isProcessAlive,
  LOCK_FILE,
  lockDataDir,
  NoRunningStack,
  readEndpointFile,
  removeEndpointFile,
  writeEndpointFile,
} from '#local/service/endpoint-file.ts';

/** The pid of a process that has exited (and been reaped). */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid as number;
};

const info = (pid: number, dataDir: string): EndpointInfo => ({
  endpoint: 'http://127.0.0.1:4599',
  region: 'us-east-1',
  bucket: 'sluice-local',
  table: 'sluice-ledger',
  stream: 'sluice-aggregates',
  stateMachines: {
    ProcessFile: 'arn:aws:states:us-east-1:000000000000:stateMachine:sluice-ProcessFile',
  },
  queues: {
    uploads: 'http://127.0.0.1:4599/000000000000/sluice-uploads',
    deadLetters: 'http://127.0.0.1:4599/000000000000/sluice-uploads-dlq',
  },
  pid,
  logDir: join(dataDir, 'logs'),
  dataDir,
  startedAt: '2026-12-02T12:00:00.000Z',
  version: '0.1.0',
});

let dataDir: string;
let sleeper: ChildProcess;

beforeAll(() => {
  // A live process that is not this one, to hold locks and write endpoint files.
  sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
});

afterAll(() => {
  sleeper.kill();
});

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'sluice-endpoint-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('isProcessAlive', () => {
  it('tells a live process from one that has exited', () => {
    // Act
    const alive = [process.pid, sleeper.pid as number, deadPid(), 0, -1].map(isProcessAlive);

    // Assess
    expect(alive).toEqual([true, true, false, false, false]);
  });
});

describe('endpoint.json', () => {
  it('reads back what was written, leaving no temporary file', () => {
    // Prepare
    const written = info(process.pid, dataDir);

    // Act
    writeEndpointFile(dataDir, written);
    const read = readEndpointFile(dataDir);

    // Assess
    expect(read).toEqual(written);
    expect(readdirSync(dataDir)).toEqual(['endpoint.json']);
  });

  it('says what to do when no sluice has written one', () => {
    // Act
    const reading = () => readEndpointFile(dataDir);

    // Assess
    expect(reading).toThrow(NoRunningStack);
    expect(reading).toThrow(
      `no sluice is running for ${dataDir}: start one with \`sluice up --data-dir ${dataDir}\``,
    );
  });

  it('is no running stack once the process that wrote it has exited', () => {
    // Prepare
    const pid = deadPid();
    writeEndpointFile(dataDir, info(pid, dataDir));

    // Act
    const reading = () => readEndpointFile(dataDir);

    // Assess
    expect(reading).toThrow(NoRunningStack);
    expect(reading).toThrow(`pid ${pid}, has exited): start one with \`sluice up --data-dir`);
  });

  it('names a file that no sluice wrote', () => {
    // Prepare
    writeFileSync(join(dataDir, 'endpoint.json'), '{"not": "ours"}');

    // Act
    const reading = () => readEndpointFile(dataDir);

    // Assess
    expect(reading).toThrow(InvalidEndpointFile);
  });

  it('is removed only by the process that wrote it', () => {
    // Prepare
    writeEndpointFile(dataDir, info(sleeper.pid as number, dataDir));

    // Act
    removeEndpointFile(dataDir);
    const kept = existsSync(join(dataDir, 'endpoint.json'));
    removeEndpointFile(dataDir, sleeper.pid);

    // Assess
    expect(kept).toBe(true);
    expect(existsSync(join(dataDir, 'endpoint.json'))).toBe(false);
  });
});

describe('lockDataDir', () => {
  const lockFile = () => join(dataDir, LOCK_FILE);

  it('holds the pid while locked, and goes on release', () => {
    // Act
    const lock = lockDataDir(dataDir);
    const held = readFileSync(lockFile(), 'utf8');
    lock.release();

    // Assess
    expect(held).toBe(`${process.pid}\n`);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('refuses a data dir this process already holds', () => {
    // Prepare
    const lock = lockDataDir(dataDir);

    try {
      // Act
      const second = () => lockDataDir(dataDir);

      // Assess
      expect(second).toThrow(DataDirInUse);
    } finally {
      lock.release();
    }
  });

  it('refuses a data dir another live process holds, and says what to do', () => {
    // Prepare
    writeFileSync(lockFile(), `${sleeper.pid}\n`);

    // Act
    const locking = () => lockDataDir(dataDir);

    // Assess
    expect(locking).toThrow(DataDirInUse);
    expect(locking).toThrow(
      `another sluice (pid ${sleeper.pid}) is using ${dataDir}; stop it first, or use another --data-dir`,
    );
    expect(readFileSync(lockFile(), 'utf8')).toBe(`${sleeper.pid}\n`);
  });

  it.each([
    ['a process that has exited', () => `${deadPid()}\n`],
    [
      'this pid, which this process does not hold (a restarted container)',
      () => `${process.pid}\n`,
    ],
    ['no pid at all (its writer died between creating and writing it)', () => ''],
  ])('takes over a lock left by %s', (_name, content) => {
    // Prepare
    writeFileSync(lockFile(), content());

    // Act
    const lock = lockDataDir(dataDir);

    // Assess
    expect(readFileSync(lockFile(), 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
  });

  it('leaves a lock that another process has taken since', () => {
    // Prepare
    const lock = lockDataDir(dataDir);
    writeFileSync(lockFile(), `${sleeper.pid}\n`);

    // Act
    lock.release();

    // Assess
    expect(readFileSync(lockFile(), 'utf8')).toBe(`${sleeper.pid}\n`);
  });
});
