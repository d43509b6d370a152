import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectUsageError, runSluice } from './cli-process.ts';

const ROOT = join(import.meta.dirname, '../..');

const sluice = (...args: string[]) => runSluice(args);

/** The pid of a process that has exited and been reaped. */
function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['-e', '']);
    child.once('exit', () => resolve(child.pid ?? 0));
  });
}

let work: string;
/** Answers like a web server that is not sluice: 404 for everything. */
let stranger: Server;
let strangerUrl: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sluice-ops-usage-'));
  stranger = createServer((_request, response) => {
    response.writeHead(404);
    response.end('not here');
  });
  await new Promise<void>((listening) => stranger.listen(0, '127.0.0.1', listening));
  strangerUrl = `http://127.0.0.1:${(stranger.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((closed) => stranger.close(closed));
  rmSync(work, { recursive: true, force: true });
});

/** A data dir whose endpoint.json names `pid` and an endpoint where nothing listens. */
function dataDir(name: string, pid: number): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'endpoint.json'),
    JSON.stringify({
      endpoint: 'http://127.0.0.1:1',
      bucket: 'sluice-local',
      table: 'sluice-ledger',
      stream: 'sluice-aggregates',
      stateMachines: { ProcessFile: 'arn:aws:states:us-east-1:000000000000:stateMachine:x' },
      pid,
      region: 'us-east-1',
      logDir: join(dir, 'logs'),
    }),
  );
  return dir;
}

describe('the ops commands on a stack that is not there', () => {
  it('end an unreachable --endpoint with exit code 2 and one line', async () => {
    // Act
    const run = await sluice('executions', '--endpoint', 'http://127.0.0.1:1');

    // Assess
    expectUsageError(run, /^sluice: nothing answers at http:\/\/127\.0\.0\.1:1 /);
  });

  it('end an --endpoint that is not a sluice with exit code 2', async () => {
    // Act
    const run = await sluice('show', 'incoming/a.csv', '--endpoint', strangerUrl);

    // Assess
    expectUsageError(run, /is not a sluice endpoint: GET \/_sluice\/endpoint answered HTTP 404/);
  });

  it('end a --data-dir with no endpoint.json with exit code 2', async () => {
    // Act
    const run = await sluice('watch', '--data-dir', work);

    // Assess
    expectUsageError(
      run,
      /^sluice: no sluice is running for .*: start one with `sluice up --data-dir /,
    );
  });

  it('end a --data-dir whose sluice has exited, or does not answer, with exit code 2', async () => {
    // Prepare: one written by a process that has exited; one by a live process that serves nothing.
    const gone = dataDir('gone', await deadPid());
    const silent = dataDir('silent', process.pid);

    // Act
    const exited = await sluice('executions', '--data-dir', gone);
    const unanswered = await sluice('upload', ROOT, '--data-dir', silent);

    // Assess
    expectUsageError(
      exited,
      /^sluice: no sluice is running for .*gone \(the sluice that wrote endpoint\.json, pid \d+, has exited\)/,
    );
    expectUsageError(unanswered, /^sluice: nothing answers at http:\/\/127\.0\.0\.1:1 /);
  });
});

describe('the ops commands given bad input', () => {
  it('end a bad option or a missing path with exit code 2, before looking for a stack', async () => {
    // Act
    const status = await sluice('executions', '--status', 'DONE', '--data-dir', work);
    const format = await sluice('executions', '-o', 'xml', '--data-dir', work);
    const path = await sluice('upload', join(work, 'nope'), '--data-dir', work);
    const both = await sluice('show', 'a', '--stack', 'prod', '--endpoint', strangerUrl);

    // Assess
    expectUsageError(status, /^sluice: --status DONE: use one or more of PROCESSING, /);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("argument 'xml' is invalid");
    expectUsageError(path, /nope: no such file or directory$/);
    expectUsageError(both, /either --stack .* or --endpoint, not both/);
  });

  it('plans an upload with --dry-run and no stack at all', async () => {
    // Prepare
    const files = join(work, 'files');
    mkdirSync(files);
    writeFileSync(join(files, 'one.csv'), 'a\n1\n');

    // Act
    const run = await sluice('upload', join(files, 'one.csv'), '--dry-run', '--data-dir', work);

    // Assess
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { key: 'incoming/default/one.csv', bytes: 4, etag: null, path: join(files, 'one.csv') },
    ]);
  });

  it('explain options, output fields and exit codes in --help', async () => {
    // Act
    const runs = await Promise.all(
      ['executions', 'show', 'watch', 'upload'].map((name) => sluice(name, '--help')),
    );

    // Assess
    for (const run of runs) {
      expect(run.code).toBe(0);
      for (const text of [
        '--data-dir',
        '--endpoint',
        '--stack',
        '-o, --output',
        'Output',
        'Exit codes',
      ]) {
        expect(run.stdout).toContain(text);
      }
    }
  });
});
