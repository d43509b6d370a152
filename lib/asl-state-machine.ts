import { readFileSync } from 'node:fs';
import { RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { DefinitionBody, LogLevel, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { arnSubstitution } from '../functions/registry.ts';

/** The ASL placeholder that carries the ledger table's name. */
export const LEDGER_TABLE_SUBSTITUTION = 'LedgerTableName';

/** DynamoDB optimized integrations the ASL may use directly, with the IAM action each needs. */
const DYNAMODB_INTEGRATIONS: Readonly<Record<string, string>> = {
  'arn:aws:states:::dynamodb:putItem': 'dynamodb:PutItem',
  'arn:aws:states:::dynamodb:getItem': 'dynamodb:GetItem',
  'arn:aws:states:::dynamodb:updateItem': 'dynamodb:UpdateItem',
  'arn:aws:states:::dynamodb:deleteItem': 'dynamodb:DeleteItem',
};

export interface AslStateMachineProps {
  /** Path of the ASL JSON file, with `${…}` placeholders. */
  readonly definitionFile: string;
  /** Functions the ASL may call, by registry id; each `${<id>FunctionArn}` must have one. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The run ledger, named by `${LedgerTableName}` and used by DynamoDB integrations. */
  readonly table: ITableV2;

  /**
   * How long execution logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * A Standard state machine loaded from an ASL file, the file the local runner also loads. CDK
 * derives no IAM from a file-based definition, so the grants come from reading the file: invoke
 * for every function placeholder and the matching DynamoDB action for every direct integration.
 * Any other Resource fails the synth, so a new integration can't ship without its grant.
 */
export class AslStateMachine extends Construct {
  /** The state machine. */
  public readonly stateMachine: StateMachine;
  /** Its execution log group. */
  public readonly logGroup: LogGroup;
  /** Registry ids of the functions the definition invokes. */
  public readonly invokedFunctionIds: readonly string[];
  /** Substitutions passed to CloudFormation, by placeholder name. */
  public readonly substitutions: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: AslStateMachineProps) {
    super(scope, id);
    const text = readFileSync(props.definitionFile, 'utf8');
    const placeholders = [
      ...new Set([...text.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1] as string)),
    ];
    const resources = taskResources(JSON.parse(text) as unknown);

    const substitutions: Record<string, string> = {};
    const invoked: string[] = [];
    for (const placeholder of placeholders) {
      if (placeholder === LEDGER_TABLE_SUBSTITUTION) {
        substitutions[placeholder] = props.table.tableName;
        continue;
      }
      const functionId = Object.keys(props.functions).find(
        (fid) => arnSubstitution(fid) === placeholder,
      );
      const fn = functionId === undefined ? undefined : props.functions[functionId];
      if (functionId === undefined || fn === undefined) {
        throw new Error(
          `${props.definitionFile} uses \${${placeholder}}, which matches no function (have: ${Object.keys(props.functions).join(', ')})`,
        );
      }
      substitutions[placeholder] = fn.functionArn;
      invoked.push(functionId);
    }

    const dynamoActions = new Set<string>();
    for (const resource of resources) {
      if (/^\$\{[^}]+FunctionArn\}$/.test(resource)) continue;
      const action = DYNAMODB_INTEGRATIONS[resource];
      if (action === undefined) {
        throw new Error(
          `${props.definitionFile} uses Resource '${resource}', which has no grant here`,
        );
      }
      dynamoActions.add(action);
    }

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      definitionBody: DefinitionBody.fromFile(props.definitionFile),
      definitionSubstitutions: substitutions,
      tracingEnabled: true,
      // Payloads are S3 pointers and small summaries (DESIGN.md), so full execution data is safe.
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });

    for (const functionId of invoked) {
      props.functions[functionId]?.grantInvoke(this.stateMachine);
    }
    if (dynamoActions.size > 0) {
      props.table.grant(this.stateMachine, ...[...dynamoActions].sort());
    }
    this.invokedFunctionIds = invoked;
    this.substitutions = substitutions;
  }
}

/** Every Task `Resource` in a definition, including those inside Map and Parallel states. */
export function taskResources(node: unknown): string[] {
  const found: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const record = value as Record<string, unknown>;
    if (record.Type === 'Task' && typeof record.Resource === 'string') found.push(record.Resource);
    Object.values(record).forEach(visit);
  };
  visit(node);
  return [...new Set(found)];
}
