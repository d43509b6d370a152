import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Alias, Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SERVICE_NAME } from '../functions/commons/constants.ts';
import { BUNDLING, type FunctionDefinition, objectPrefixes } from '../functions/registry.ts';

/** The runtime every sluice function runs on: the newest Node.js LTS that aws-cdk-lib offers. */
export const SLUICE_RUNTIME = Runtime.NODEJS_24_X;

/** The alias every caller invokes: each deploy publishes a version and moves it there. */
export const LIVE_ALIAS = 'live';

/** Repository root: registry entries and the lock file are relative to it. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface SluiceFunctionProps {
  /** The function's entry in `functions/registry.ts`. */
  readonly definition: FunctionDefinition;

  /**
   * Directory that registry entries and `package-lock.json` are relative to.
   * @default the repository root
   */
  readonly projectRoot?: string;

  /**
   * How long the function's log group keeps events.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;

  /**
   * Reserve the registry's `concurrency` for the function. Off by default because new accounts
   * have a low concurrency quota, and CloudFormation rejects reservations that leave fewer than
   * 10 unreserved executions.
   * @default false - concurrency is bounded by the SQS event source and the ASL's MaxConcurrency
   */
  readonly reserveConcurrency?: boolean;
}

/**
 * A registry function, bundled as ESM for arm64 on the newest Node.js LTS, with X-Ray tracing,
 * source maps and a log group with a retention. Packages in `nodeModules` (native code such as
 * sharp) stay out of the bundle and are installed for Lambda's linux-arm64-glibc platform.
 * Its role starts with its own log group and X-Ray only (no managed policy); `connectFunction`
 * adds what the registry names. Each deploy publishes a version and points the `live` alias at
 * it, and callers invoke the alias.
 */
export class SluiceFunction extends Construct {
  /** The deployed function. */
  public readonly function: NodejsFunction;
  /** The `live` alias, which the state machines and the upload queue invoke. */
  public readonly alias: Alias;
  /** The function's own role. */
  public readonly role: Role;
  /** The function's log group. */
  public readonly logGroup: LogGroup;
  /** The registry entry the function was built from. */
  public readonly definition: FunctionDefinition;

  constructor(scope: Construct, id: string, props: SluiceFunctionProps) {
    super(scope, id);
    const { definition } = props;
    validateDefinition(definition);
    this.definition = definition;
    const projectRoot = props.projectRoot ?? PROJECT_ROOT;

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // The group only holds this function's logs, already bounded by retention.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `sluice ${definition.id}: its log group, X-Ray and its registry access`,
    });
    // AWSLambdaBasicExecutionRole, narrowed to this function's group: the group exists already.
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    const nodeModules = [...(definition.nodeModules ?? [])];
    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(projectRoot, definition.entry),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      description: definition.description,
      runtime: SLUICE_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: definition.memorySize,
      timeout: Duration.seconds(definition.timeoutSeconds),
      reservedConcurrentExecutions: props.reserveConcurrency ? definition.concurrency : undefined,
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      // A deploy replaces the version `live` points at and deletes the one before, so that code
      // storage (75 GB a region) does not grow with every deploy; going back is a deploy of the
      // earlier commit. CDK's default keeps every version forever.
      currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: [...BUNDLING.mainFields],
        banner: BUNDLING.banner,
        sourceMap: true,
        minify: BUNDLING.minify,
        keepNames: BUNDLING.keepNames,
        // Bundle the SDK too, so the deployed code runs the versions the tests ran.
        externalModules: [],
        nodeModules: nodeModules.length > 0 ? nodeModules : undefined,
        // `npm ci` picks optional platform packages (sharp's @img/sharp-linux-arm64) from these.
        environment:
          nodeModules.length > 0
            ? {
                npm_config_os: 'linux',
                npm_config_cpu: 'arm64',
                npm_config_libc: 'glibc',
                // Synth should not need the registry when the npm cache already has the tarballs.
                npm_config_prefer_offline: 'true',
              }
            : undefined,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // The install copies the whole project's lock file next to the bundle; the function
          // only needs the installed packages.
          afterBundling: (_inputDir: string, outputDir: string) =>
            nodeModules.length > 0 ? [`rm -f "${outputDir}/package-lock.json"`] : [],
        },
      },
    });
    this.alias = new Alias(this, 'LiveAlias', {
      aliasName: LIVE_ALIAS,
      // A new version whenever the code or configuration changes, env vars added later included.
      version: this.function.currentVersion,
      description: 'The version callers invoke; moved by each deploy',
    });
  }
}

function validateDefinition(definition: FunctionDefinition): void {
  if (!/^[A-Z][A-Za-z0-9]*$/.test(definition.id)) {
    throw new Error(`Function id must be PascalCase alphanumerics, got '${definition.id}'`);
  }
  if (!/\.(ts|js|mts|mjs)$/.test(definition.entry)) {
    throw new Error(
      `Function ${definition.id}: entry must be a .ts or .js file, got '${definition.entry}'`,
    );
  }
  if (definition.memorySize < 128 || definition.memorySize > 10240) {
    throw new Error(
      `Function ${definition.id}: memorySize must be 128–10240 MB, got ${definition.memorySize}`,
    );
  }
  if (definition.timeoutSeconds < 1 || definition.timeoutSeconds > 900) {
    throw new Error(
      `Function ${definition.id}: timeoutSeconds must be 1–900, got ${definition.timeoutSeconds}`,
    );
  }
  if (!Number.isInteger(definition.concurrency) || definition.concurrency < 1) {
    throw new Error(
      `Function ${definition.id}: concurrency must be a positive integer, got ${definition.concurrency}`,
    );
  }
  for (const prefix of objectPrefixes(definition)) {
    // Granted as `<prefix>*`: anything but a folder would grant more, or other keys, than named.
    if (!/^[^/*][^*]*\/$/.test(prefix)) {
      throw new Error(
        `Function ${definition.id}: object prefixes must be folders ending in '/', without '*', got '${prefix}'`,
      );
    }
  }
}
