import { readFileSync } from 'node:fs';
import { Arn, ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  DefinitionBody,
  type IStateMachine,
  LogLevel,
  StateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
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
  /**
   * Functions the ASL may call, by registry id; each `${<id>FunctionArn}` must have one. The
   * placeholder gets this function's ARN, and the grant names that ARN alone: pass an alias
   * (SluiceFunction's `live`) so the machine invokes the deployed version.
   */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The run ledger, named by `${LedgerTableName}` and used by DynamoDB integrations. */
  readonly table: ITableV2;

  /**
   * How long execution logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;

  /**
   * Values for placeholders that name neither a function nor the ledger table, by placeholder
   * name (`BucketName` for `${BucketName}`). Each must appear in the definition.
   * @default - none: such a placeholder fails the synth
   */
  readonly substitutions?: Readonly<Record<string, string>>;

  /**
   * The statements each further integration needs, by the Resource the definition names it with:
   * a Task's, or a Distributed Map's ItemReader or ResultWriter. Each must be used by the
   * definition, so a grant cannot outlive the state that needed it.
   * @default - none: a Resource other than a function placeholder or a DynamoDB task fails the synth
   */
  readonly integrations?: Readonly<Record<string, readonly PolicyStatement[]>>;

  /**
   * The state machine's name. A definition with a Distributed Map needs one: its child workflow
   * executions are granted on ARNs built from the name, as a reference to the machine's own ARN
   * would make its role's policy and the machine depend on each other.
   * @default - a name CloudFormation generates; a Distributed Map then fails the synth
   */
  readonly stateMachineName?: string;
}

/**
 * A Standard state machine loaded from an ASL file, the file the local runner also loads. CDK
 * derives no IAM from a file-based definition, so the grants come from reading the file: invoke
 * for every function placeholder, the matching DynamoDB action for every direct integration, the
 * caller's statements for the `integrations` it names, and a Distributed Map's child workflow
 * executions. Any other Resource fails the synth, so a new integration can't ship without its grant.
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
  /**
   * The grants for a Distributed Map's child workflow executions, kept out of the role's default
   * policy (which the state machine depends on); undefined without a Distributed Map.
   */
  public readonly distributedMapPolicy?: Policy;

  constructor(scope: Construct, id: string, props: AslStateMachineProps) {
    super(scope, id);
    const text = readFileSync(props.definitionFile, 'utf8');
    const placeholders = [
      ...new Set([...text.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1] as string)),
    ];
    const definition = JSON.parse(text) as unknown;
    const resources = integrationResources(definition);
    const extraSubstitutions = props.substitutions ?? {};
    const givenSubstitutions = Object.keys(extraSubstitutions);
    const integrations = props.integrations ?? {};

    const substitutions: Record<string, string> = {};
    const invoked: string[] = [];
    for (const placeholder of placeholders) {
      if (placeholder === LEDGER_TABLE_SUBSTITUTION) {
        substitutions[placeholder] = props.table.tableName;
        continue;
      }
      const value = extraSubstitutions[placeholder];
      if (value !== undefined) {
        substitutions[placeholder] = value;
        continue;
      }
      const functionId = Object.keys(props.functions).find(
        (fid) => arnSubstitution(fid) === placeholder,
      );
      const fn = functionId === undefined ? undefined : props.functions[functionId];
      if (functionId === undefined || fn === undefined) {
        throw new Error(
          `${props.definitionFile} uses \${${placeholder}}, which matches no function (have: ${Object.keys(props.functions).join(', ')})${givenSubstitutions.length > 0 ? ` nor substitution (have: ${givenSubstitutions.join(', ')})` : ''}`,
        );
      }
      substitutions[placeholder] = fn.functionArn;
      invoked.push(functionId);
    }
    const unusedSubstitutions = givenSubstitutions.filter((n) => !(n in substitutions));
    if (unusedSubstitutions.length > 0) {
      throw new Error(
        `${props.definitionFile} has no placeholder for substitution ${unusedSubstitutions.join(', ')}`,
      );
    }

    const dynamoActions = new Set<string>();
    const statements: PolicyStatement[] = [];
    for (const resource of resources) {
      if (/^\$\{[^}]+FunctionArn\}$/.test(resource)) continue;
      const granted = integrations[resource];
      if (granted !== undefined) {
        statements.push(...granted);
        continue;
      }
      const action = DYNAMODB_INTEGRATIONS[resource];
      if (action === undefined) {
        throw new Error(
          `${props.definitionFile} uses Resource '${resource}', which has no grant here`,
        );
      }
      dynamoActions.add(action);
    }
    const unusedIntegrations = Object.keys(integrations).filter((r) => !resources.includes(r));
    if (unusedIntegrations.length > 0) {
      throw new Error(
        `${props.definitionFile} uses no Resource '${unusedIntegrations.join("', '")}', yet a grant was given for it`,
      );
    }
    const distributedMap = hasDistributedMap(definition);
    const name = props.stateMachineName;
    if (distributedMap && name === undefined) {
      throw new Error(
        `${props.definitionFile} has a Distributed Map, which needs a stateMachineName to grant its child executions on`,
      );
    }

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: name,
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
      // On the table alone: `table.grant` would add its indexes (`index/*`), which no task reads.
      this.stateMachine.addToRolePolicy(
        new PolicyStatement({
          actions: [...dynamoActions].sort(),
          resources: [props.table.tableArn],
        }),
      );
    }
    for (const statement of statements) {
      this.stateMachine.addToRolePolicy(statement);
    }
    if (distributedMap && name !== undefined) {
      this.distributedMapPolicy = distributedMapPolicy(this, name);
      this.stateMachine.role.attachInlinePolicy(this.distributedMapPolicy);
    }
    this.invokedFunctionIds = invoked;
    this.substitutions = substitutions;
  }
}

/**
 * The executions of a state machine, `…:execution:<name>:*`. Their names are made at run time
 * (one per file version or batch), so this is the narrowest ARN that names them.
 */
export function executionsOf(stateMachine: IStateMachine): string {
  const { resourceName } = Arn.split(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME);
  return Stack.of(stateMachine).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${resourceName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The ARNs of a state machine and of its runs, built from its name rather than a reference. */
export interface NamedMachineArns {
  readonly stateMachine: string;
  /** Its executions, `…:execution:<name>:*`. */
  readonly executions: string;
  /** Its Distributed Maps' Map Runs, `…:execution:<name>/<label>:<id>`, any label and id. */
  readonly mapRuns: string;
}

/**
 * The ARNs of the state machine named `stateMachineName` in this stack. A grant on them makes no
 * dependency on the machine, so its own role may hold one.
 */
export function namedMachineArns(scope: Construct, stateMachineName: string): NamedMachineArns {
  const stack = Stack.of(scope);
  const arn = (resource: string, resourceName: string) =>
    stack.formatArn({
      service: 'states',
      resource,
      resourceName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  return {
    stateMachine: arn('stateMachine', stateMachineName),
    executions: arn('execution', `${stateMachineName}:*`),
    mapRuns: arn('execution', `${stateMachineName}/*:*`),
  };
}

/**
 * The statements a Distributed Map's child workflow executions need, as CDK's own DistributedMap
 * grants them: start the machine itself, describe and stop its executions, and redrive its map
 * runs (the map has no Label, so any).
 */
function distributedMapPolicy(scope: Construct, stateMachineName: string): Policy {
  const arns = namedMachineArns(scope, stateMachineName);
  return new Policy(scope, 'DistributedMapPolicy', {
    statements: [
      new PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [arns.stateMachine],
      }),
      new PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [arns.executions],
      }),
      new PolicyStatement({
        actions: ['states:RedriveExecution'],
        resources: [arns.mapRuns],
      }),
    ],
  });
}

/** Calls `visit` on every object of a definition, states nested in Map and Parallel included. */
export function eachObject(node: unknown, visit: (record: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) eachObject(item, visit);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  visit(record);
  for (const value of Object.values(record)) eachObject(value, visit);
}

/** Every Task `Resource` in a definition, including those inside Map and Parallel states. */
export function taskResources(node: unknown): string[] {
  const found = new Set<string>();
  eachObject(node, (record) => {
    if (record.Type === 'Task' && typeof record.Resource === 'string') found.add(record.Resource);
  });
  return [...found];
}

/**
 * Every Resource a definition calls: its Tasks' and its Map states' `ItemReader` and
 * `ResultWriter` (the S3 listing and the results export of a Distributed Map).
 */
export function integrationResources(node: unknown): string[] {
  const found = new Set(taskResources(node));
  eachObject(node, (record) => {
    if (record.Type !== 'Map') return;
    for (const field of ['ItemReader', 'ResultWriter']) {
      const resource = (record[field] as { Resource?: unknown } | undefined)?.Resource;
      if (typeof resource === 'string') found.add(resource);
    }
  });
  return [...found];
}

/** Whether a definition has a Map whose item processor runs as child workflow executions. */
export function hasDistributedMap(node: unknown): boolean {
  let found = false;
  eachObject(node, (record) => {
    const processor = record.ItemProcessor as { ProcessorConfig?: { Mode?: unknown } } | undefined;
    if (record.Type === 'Map' && processor?.ProcessorConfig?.Mode === 'DISTRIBUTED') found = true;
  });
  return found;
}
