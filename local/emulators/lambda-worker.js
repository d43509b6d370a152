// One local Lambda execution environment: a worker thread that loads the handler's bundle once
// (warm starts) and runs one invocation at a time.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

function serialize(error) {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack?.split('\n') ?? [] };
  }
  return { name: 'Error', message: String(error), stack: [] };
}

let handler;
try {
  ({ handler } = await import(pathToFileURL(workerData.entry).href));
  if (typeof handler !== 'function') throw new Error(`${workerData.entry} exports no handler`);
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
