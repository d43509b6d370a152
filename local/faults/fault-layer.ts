import { writeFileSync } from 'node:fs';
import {
  request as httpRequest,
  IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { sendAwsError } from '../emulators/aws-error.ts';
import { LambdaServiceError } from '../emulators/lambda-runtime.ts';
import { effectOf, type FaultEffect } from './effects.ts';
import { jsonOperation, queryOperation, s3Operation } from './operations.ts';
// Types only: the rules' validator (zod) loads only where rules are parsed.
import type { FaultRule, FaultService } from './rules.ts';
import { seededRandom } from './seeded-random.ts';

/** Set on the layer's own calls to the emulator behind it, which must not meet faults again. */
const EXEMPT_HEADER = 'x-sluice-faults';

/** Status codes of the errors AWS answers with a 5xx; every other code is a 400, as on AWS. */
const SERVER_ERRORS: Readonly<Record<string, number>> = {
  SlowDown: 503,
  ServiceUnavailable: 503,
  InternalError: 500,
  InternalServerError: 500,
  InternalFailure: 500,
  ServiceException: 500,
};

/** What one rule did, for the report. */
export interface InjectedFault {
  readonly service: FaultService;
  readonly operation: string;
  readonly effect: FaultEffect;
  /** The error code, for `error` and `recordFailures`. */
  readonly code?: string;
  readonly count: number;
}

/** `<data-dir>/faults-report.json`. */
export interface FaultReport {
  readonly startedAt: string;
  readonly stoppedAt: string;
  readonly rules: readonly FaultRule[];
  /** Calls that reached the layer, per service (faulted or not). */
  readonly calls: Readonly<Partial<Record<FaultService, number>>>;
  readonly injected: {
    readonly total: number;
    readonly byService: Readonly<Partial<Record<FaultService, number>>>;
    readonly faults: readonly InjectedFault[];
  };
}

const sleep = (ms: number) => new Promise((wake) => setTimeout(wake, ms));

/**
 * Reads a request's body and returns it with a fresh request that yields it again. The Query
 * protocol names its operation in the body, yet the emulator must still read that body, and so
 * must an `error` effect, which drains the request it is given and would wait forever for the
 * `end` of one already read.
 */
async function replayable(
  request: IncomingMessage,
): Promise<{ readonly body: Buffer; readonly replay: IncomingMessage }> {
  const body = await buffer(request);
  const replay = new IncomingMessage(request.socket);
  replay.httpVersion = request.httpVersion;
  replay.httpVersionMajor = request.httpVersionMajor;
  replay.httpVersionMinor = request.httpVersionMinor;
  replay.method = request.method;
  replay.url = request.url;
  replay.headers = request.headers;
  replay.rawHeaders = request.rawHeaders;
  // An incomplete message that ends takes its socket down with it, keep-alive and all.
  replay.complete = true;
  if (body.length > 0) replay.push(body);
  replay.push(null);
  return { body, replay };
}

/**
 * The fault layer in front of the local endpoints: every emulator's HTTP server and the Lambda
 * invoke path ask it, call by call, whether a rule applies, and it answers with the rule's
 * effect. Rules are LocalStack's chaos rules plus latency, resets and ambiguous writes; with no
 * rules a call costs one lookup.
 */
export class FaultLayer {
  private active: readonly {
    rule: FaultRule;
    random: () => number;
    matched: number;
    hits: number;
  }[] = [];
  private setAt = Date.now();
  private readonly startedAt = new Date();
  private readonly calls = new Map<FaultService, number>();
  private readonly injected = new Map<string, InjectedFault>();

  constructor(rules: readonly FaultRule[] = []) {
    this.setRules(rules);
  }

  get rules(): readonly FaultRule[] {
    return this.active.map(({ rule }) => rule);
  }

  /** Replaces every rule; windows (`startMs`, `durationMs`) count from now. */
  setRules(rules: readonly FaultRule[]): void {
    this.active = rules.map((rule) => ({
      rule,
      random: seededRandom(rule.seed),
      matched: 0,
      hits: 0,
    }));
    this.setAt = Date.now();
  }

  /** The rule that hits this call, if any; counts the call either way. */
  private pick(service: FaultService, operation: string): FaultRule | undefined {
    this.calls.set(service, (this.calls.get(service) ?? 0) + 1);
    if (this.active.length === 0) return undefined;
    const elapsed = Date.now() - this.setAt;
    for (const state of this.active) {
      const { rule } = state;
      if (rule.service !== service) continue;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      if (elapsed < rule.startMs) continue;
      if (rule.durationMs !== undefined && elapsed >= rule.startMs + rule.durationMs) continue;
      if (++state.matched <= rule.afterCalls) continue;
      if (rule.times !== undefined && state.hits >= rule.times) continue;
      if (state.random() >= rule.probability) continue;
      state.hits++;
      const effect = effectOf(rule);
      const code = rule.error?.code ?? rule.recordFailures?.code;
      const key = [service, operation, effect, code].join('\0');
      const seen = this.injected.get(key);
      this.injected.set(key, {
        service,
        operation,
        effect,
        ...(code === undefined ? {} : { code }),
        count: (seen?.count ?? 0) + 1,
      });
      return rule;
    }
    return undefined;
  }

  /**
   * Puts the layer in front of an emulator's server: its request listeners run only for calls
   * that get through. Call after the emulator is prepared, so its own setup meets no fault.
   * SNS speaks the Query protocol, whose operation is in the body: its requests are read first,
   * and only while a rule names `sns`.
   */
  wrapServer(server: Server, service: Exclude<FaultService, 'lambda'>): void {
    const listeners = server.listeners('request') as ((
      request: IncomingMessage,
      response: ServerResponse,
    ) => void)[];
    server.removeAllListeners('request');
    const pass = (request: IncomingMessage, response: ServerResponse) => {
      for (const listener of listeners) listener.call(server, request, response);
    };
    const handle = (request: IncomingMessage, response: ServerResponse, operation: string) => {
      const rule = this.pick(service, operation);
      if (!rule) {
        pass(request, response);
        return;
      }
      this.apply(rule, server, service, request, response, pass).catch(() => {
        request.socket.destroy();
      });
    };
    const operationOf = service === 's3' ? s3Operation : jsonOperation;
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      if (request.headers[EXEMPT_HEADER] !== undefined) {
        pass(request, response);
      } else if (service !== 'sns') {
        handle(request, response, operationOf(request));
      } else if (!this.active.some(({ rule }) => rule.service === service)) {
        // No rule can hit it: counted, and let through unread.
        handle(request, response, '');
      } else {
        replayable(request).then(
          ({ body, replay }) => handle(replay, response, queryOperation(body)),
          () => request.socket.destroy(),
        );
      }
    });
  }

  private async apply(
    rule: FaultRule,
    server: Server,
    service: FaultService,
    request: IncomingMessage,
    response: ServerResponse,
    pass: (request: IncomingMessage, response: ServerResponse) => void,
  ): Promise<void> {
    if (rule.latency !== undefined) {
      await sleep(rule.latency);
      pass(request, response);
    } else if (rule.reset) {
      request.socket.destroy();
    } else if (rule.commitThenReset) {
      // The emulator does all its work; only its answer never leaves.
      response.writeHead = () => response;
      response.write = () => true;
      response.end = () => {
        request.socket.destroy();
        return response;
      };
      pass(request, response);
    } else if (rule.error) {
      // Read the body away first (without keeping it: it may be a GB upload), so the client gets
      // the answer rather than a broken pipe.
      await new Promise((drained, failed) => {
        request.on('end', drained).on('error', failed).resume();
      });
      const { code } = rule.error;
      const status = rule.error.statusCode ?? SERVER_ERRORS[code] ?? 400;
      const message = rule.error.message ?? `sluice fault injection: ${code}`;
      // S3's XML, SNS's Query XML (`ErrorResponse`), or the JSON protocols' `__type`.
      const protocol = service === 's3' || service === 'sns' ? 'xml' : 'json';
      sendAwsError(response, status, protocol, code, message, { s3: service === 's3' });
    } else if (rule.recordFailures) {
      await this.failSomeRecords(rule.recordFailures, rule, server, request, response);
    }
  }

  /**
   * Kinesis's partial failure: some entries of a `PutRecords` fail inside an HTTP 200, and only
   * the others reach the stream. The layer puts those through the emulator itself and answers
   * with both, in the request's order.
   */
  private async failSomeRecords(
    failures: NonNullable<FaultRule['recordFailures']>,
    rule: FaultRule,
    server: Server,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const body = JSON.parse((await buffer(request)).toString('utf8')) as {
      Records?: unknown[];
    };
    const records = body.Records ?? [];
    const random = seededRandom(rule.seed + records.length);
    const failed = records.map(() => random() < failures.fraction);
    if (records.length > 0 && !failed.includes(true)) failed[0] = true;
    const kept = records.filter((_, index) => !failed[index]);
    let stored: { Records?: object[]; FailedRecordCount?: number } = { Records: [] };
    if (kept.length > 0) {
      const answer = await this.callEmulator(server, request, { ...body, Records: kept });
      if (answer.status !== 200) {
        response.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(answer.body);
        return;
      }
      stored = JSON.parse(answer.body.toString('utf8'));
    }
    const storedRecords = [...(stored.Records ?? [])];
    const message =
      failures.code === 'ProvisionedThroughputExceededException'
        ? 'Rate exceeded for shard shardId-000000000000 (sluice fault injection).'
        : 'Internal service failure (sluice fault injection).';
    const answer = {
      FailedRecordCount: failed.filter(Boolean).length + (stored.FailedRecordCount ?? 0),
      Records: failed.map((isFailed) =>
        isFailed ? { ErrorCode: failures.code, ErrorMessage: message } : storedRecords.shift(),
      ),
    };
    const text = JSON.stringify(answer);
    response.writeHead(200, {
      'content-type': 'application/x-amz-json-1.1',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  }

  private callEmulator(
    server: Server,
    original: IncomingMessage,
    body: unknown,
  ): Promise<{ status: number; body: Buffer }> {
    const text = JSON.stringify(body);
    const { port } = server.address() as AddressInfo;
    const headers = { ...original.headers, [EXEMPT_HEADER]: 'off' };
    headers['content-length'] = String(Buffer.byteLength(text));
    return new Promise((resolve, reject) => {
      const call = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: original.url, headers },
        (answer) => {
          buffer(answer).then(
            (answerBody) => resolve({ status: answer.statusCode ?? 500, body: answerBody }),
            reject,
          );
        },
      );
      call.on('error', reject);
      call.end(text);
    });
  }

  /**
   * Puts the layer on the Lambda invoke path: throttling and service errors as Lambda's API
   * raises them, latency, a call lost before it reaches Lambda, and one whose function ran but
   * whose answer was lost.
   */
  wrapInvoke<I, O>(
    invoke: (id: string, input: I) => Promise<O>,
  ): (id: string, input: I) => Promise<O> {
    return async (id, input) => {
      const rule = this.pick('lambda', 'Invoke');
      if (!rule) return invoke(id, input);
      if (rule.latency !== undefined) {
        await sleep(rule.latency);
        return invoke(id, input);
      }
      if (rule.error) {
        throw new LambdaServiceError(
          rule.error.code,
          rule.error.message ?? `sluice fault injection: ${rule.error.code}`,
        );
      }
      if (rule.commitThenReset) {
        await invoke(id, input).catch(() => undefined);
        throw new LambdaServiceError(
          'SdkClientException',
          'sluice fault injection: the connection was reset after the function ran',
        );
      }
      throw new LambdaServiceError(
        'SdkClientException',
        'sluice fault injection: the connection was reset before the invoke reached Lambda',
      );
    };
  }

  report(): FaultReport {
    const faults = [...this.injected.values()].sort(
      (a, b) =>
        a.service.localeCompare(b.service) ||
        a.operation.localeCompare(b.operation) ||
        a.effect.localeCompare(b.effect),
    );
    const byService: Partial<Record<FaultService, number>> = {};
    for (const fault of faults)
      byService[fault.service] = (byService[fault.service] ?? 0) + fault.count;
    return {
      startedAt: this.startedAt.toISOString(),
      stoppedAt: new Date().toISOString(),
      rules: this.rules,
      calls: Object.fromEntries(this.calls),
      injected: {
        total: faults.reduce((sum, fault) => sum + fault.count, 0),
        byService,
        faults,
      },
    };
  }

  /** Writes the report to `path` and returns the one-line summary for stderr. */
  writeReport(path: string): string {
    const report = this.report();
    writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
    const calls = Object.values(report.calls).reduce((sum, n) => sum + n, 0);
    const parts = Object.entries(report.injected.byService).map(
      ([service, n]) => `${service} ${n}`,
    );
    return `sluice: faults injected ${report.injected.total} in ${calls} calls${parts.length > 0 ? ` (${parts.join(', ')})` : ''}; report: ${path}`;
  }
}
