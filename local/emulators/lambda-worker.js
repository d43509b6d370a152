// One local Lambda execution environment: a worker thread that loads the handler's bundle once
// (warm starts) and runs one invocation at a time.
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, SourceMap } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';

const { entry } = workerData;

/**
 * The bundle's source map, read when a stack trace is first formatted: `--enable-source-maps`
 * parsed it at every cold start (about 30 ms), and it does not map code compiled by `vm.Script`.
 */
let sourceMap;
function bundleSourceMap() {
  if (sourceMap === undefined) {
    try {
      const url = pathToFileURL(`${entry}.map`);
      const payload = JSON.parse(readFileSync(url, 'utf8'));
      payload.sources = payload.sources.map((source) => new URL(source, url).href);
      sourceMap = new SourceMap(payload);
    } catch {
      sourceMap = null; // no map: the trace keeps the bundle's positions
    }
  }
  return sourceMap;
}

/**
 * A frame of the bundle as Node prints a source-mapped one: the TypeScript file and line. A frame
 * that cannot be mapped keeps the bundle's position, as a trace must never throw.
 */
function frame(site) {
  try {
    const map = site.getFileName() === entry ? bundleSourceMap() : null;
    const found = map?.findEntry(site.getLineNumber() - 1, site.getColumnNumber() - 1);
    if (found?.originalSource) {
      const enclosing = map.findEntry(
        site.getEnclosingLineNumber() - 1,
        site.getEnclosingColumnNumber() - 1,
      );
      const name = enclosing.name ?? site.getFunctionName() ?? '<anonymous>';
      const at = `${fileURLToPath(found.originalSource)}:${found.originalLine + 1}:${found.originalColumn + 1}`;
      return `${site.isAsync() ? 'async ' : ''}${name} (${at})`;
    }
  } catch {
    // fall through to V8's own text
  }
  return `${site}`;
}
Error.prepareStackTrace = (error, sites) =>
  [Error.prototype.toString.call(error), ...sites.map((site) => `    at ${frame(site)}`)].join(
    '\n',
  );

/**
 * Loads the CommonJS bundle with V8's code cache kept beside it: Node 20 caches compiled code
 * only for scripts, and compiling a bundle was half of each cold start (StartExecution: 155 ms
 * to load without the cache, 66 ms with it). The first environment of a build writes the cache;
 * one V8 rejects (another Node version) is written again.
 */
function loadHandler() {
  const cacheFile = `${entry}.v8cache`;
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // not written yet
  }
  // The wrapper on a line of its own keeps the bundle's line and column numbers for its map.
  // esbuild starts the bundle with "use strict", so it runs strict as the ES module on Lambda.
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {\n${readFileSync(entry, 'utf8')}\n})`,
    { filename: entry, lineOffset: -1, cachedData },
  );
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(entry), module, entry, dirname(entry));
  if (cachedData === undefined || script.cachedDataRejected) {
    const scratch = `${cacheFile}.${randomUUID()}`;
    try {
      writeFileSync(scratch, script.createCachedData());
      renameSync(scratch, cacheFile);
    } catch {
      // A full disk or a read-only install: the next cold start compiles again, that is all.
      rmSync(scratch, { force: true });
    }
  }
  return module.exports.handler;
}

function serialize(error) {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack?.split('\n') ?? [] };
  }
  return { name: 'Error', message: String(error), stack: [] };
}

let handler;
try {
  handler = loadHandler();
  if (typeof handler !== 'function') throw new Error(`${entry} exports no handler`);
  parentPort.postMessage({ type: 'ready' });
} catch (error) {
  parentPort.postMessage({ type: 'init-error', error: serialize(error) });
}

parentPort.on('message', async ({ requestId, event, deadline }) => {
  const { functionName, memorySize, region, account } = workerData;
  const context = {
    awsRequestId: requestId ?? randomUUID(),
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${functionName}`,
    memoryLimitInMB: String(memorySize),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${workerData.workerId}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await handler(event, context);
    parentPort.postMessage({ type: 'result', requestId, result: result ?? null });
  } catch (error) {
    parentPort.postMessage({ type: 'error', requestId, error: serialize(error) });
  }
});
