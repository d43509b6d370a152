import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { EFFECTS } from './effects.ts';

/**
 * LocalStack's service names, which are the APIs' own (`stepfunctions`, `sns`), plus `sqs` for
 * the stack's SQS API.
 */
export const FAULT_SERVICES = [
  's3',
  'dynamodb',
  'kinesis',
  'stepfunctions',
  'lambda',
  'sqs',
  'sns',
] as const;
export type FaultService = (typeof FAULT_SERVICES)[number];

const ruleSchema = z
  .strictObject({
    service: z.enum(FAULT_SERVICES),
    /** The API's own operation name (`PutObject`, `PutRecords`, `Invoke`); every one when absent. */
    operation: z.string().min(1).optional(),
    /** Accepted for LocalStack's shape; the local stack has one region. */
    region: z.string().optional(),
    description: z.string().optional(),
    probability: z.number().min(0).max(1).default(1),
    /** Seeds the rule's own random stream, so a run's faults can be told again. */
    seed: z.number().int().default(1),
    /** Milliseconds after the rules were set before the rule applies; then it applies `durationMs`. */
    startMs: z.number().int().min(0).default(0),
    durationMs: z.number().int().min(0).optional(),
    /** Matching calls let through before the rule applies: `1` spares the first. */
    afterCalls: z.number().int().min(0).default(0),
    /** The most calls the rule hits; then it is spent. */
    times: z.number().int().min(1).optional(),
    // The effects: exactly one per rule.
    /** An error in the service's wire format, as LocalStack's chaos rules have it. */
    error: z
      .strictObject({
        code: z.string().min(1),
        statusCode: z.number().int().min(400).max(599).optional(),
        message: z.string().optional(),
      })
      .optional(),
    /** Milliseconds added before the request reaches the service. */
    latency: z.number().int().min(0).optional(),
    /** The connection is reset before the request reaches the service. */
    reset: z.literal(true).optional(),
    /** The service applies the request, then the connection is reset before the answer. */
    commitThenReset: z.literal(true).optional(),
    /** Kinesis `PutRecords`: this share of the records fail with `code`, inside an HTTP 200. */
    recordFailures: z
      .strictObject({
        code: z.enum(['ProvisionedThroughputExceededException', 'InternalFailure']),
        fraction: z.number().gt(0).max(1).default(0.5),
      })
      .optional(),
  })
  .superRefine((rule, context) => {
    const effects = EFFECTS.filter((effect) => rule[effect] !== undefined);
    if (effects.length !== 1) {
      context.addIssue({
        code: 'custom',
        path: effects.length === 0 ? [] : [effects[1] as string],
        message: `a rule has exactly one effect, one of ${EFFECTS.join(', ')}${effects.length > 1 ? `; this one has ${effects.join(' and ')}` : ''}`,
      });
    }
    if (rule.recordFailures && (rule.service !== 'kinesis' || rule.operation !== 'PutRecords')) {
      context.addIssue({
        code: 'custom',
        path: ['recordFailures'],
        message: 'recordFailures applies to service "kinesis", operation "PutRecords" only',
      });
    }
  });

export type FaultRule = z.infer<typeof ruleSchema>;

/** A rules file that cannot be used: the message names the rule and the field. */
export class InvalidFaultRules extends Error {
  override readonly name = 'InvalidFaultRules';
}

const rulesSchema = z.union([z.array(ruleSchema), z.strictObject({ rules: z.array(ruleSchema) })]);

/**
 * Validates rules: a JSON array of rules, or `{ "rules": [...] }`.
 * @throws InvalidFaultRules naming the first bad rule and field, e.g. `rule 2 (s3 PutObject): probability: ...`
 */
export function parseFaultRules(value: unknown, source = 'the fault rules'): FaultRule[] {
  const parsed = rulesSchema.safeParse(value);
  if (parsed.success) return Array.isArray(parsed.data) ? parsed.data : parsed.data.rules;
  // The union reports both branches; the array branch is the one users mean unless they wrote
  // an object.
  const rules = Array.isArray(value) ? value : (value as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) {
    throw new InvalidFaultRules(`${source}: expected a JSON array of rules, or { "rules": [...] }`);
  }
  for (const [index, candidate] of rules.entries()) {
    const rule = ruleSchema.safeParse(candidate);
    if (rule.success) continue;
    const issue = rule.error.issues[0] as z.core.$ZodIssue;
    const named = candidate as { service?: unknown; operation?: unknown } | null;
    const label = [named?.service, named?.operation].filter((part) => typeof part === 'string');
    const field = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new InvalidFaultRules(
      `${source}: rule ${index + 1}${label.length > 0 ? ` (${label.join(' ')})` : ''}: ${field}${issue.message}`,
    );
  }
  throw new InvalidFaultRules(`${source}: ${parsed.error.issues[0]?.message ?? 'invalid rules'}`);
}

/** Reads and validates a rules file. @throws InvalidFaultRules */
export function readFaultRules(path: string): FaultRule[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidFaultRules(
      `${path}: cannot read the fault rules (${(error as Error).message})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidFaultRules(`${path}: not JSON (${(error as Error).message})`);
  }
  return parseFaultRules(value, path);
}
