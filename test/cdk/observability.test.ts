import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/program.ts';
import { FUNCTIONS } from '../../functions/registry.ts';
import { PROJECT_ROOT } from '../../lib/sluice-function.ts';
import {
  logicalIdOf,
  SYNTH_TIMEOUT_MS,
  type SynthesizedStack,
  synthesizeStack,
} from './stack-fixture.ts';

let synth: SynthesizedStack;
let template: Template;

beforeAll(() => {
  // GIVEN the stack built from the registry, WHEN it is synthesized once
  synth = synthesizeStack();
  template = synth.template;
}, SYNTH_TIMEOUT_MS);

const topicRef = () => ({ Ref: logicalIdOf(template, 'AWS::SNS::Topic', 'ObservabilityTopic') });
const ref = (type: string, prefix: string) => ({ Ref: logicalIdOf(template, type, prefix) });
const queueName = (prefix: string) => ({
  'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', prefix), 'QueueName'],
});

/** What one alarm must watch and when it fires, as CloudFormation spells it. */
interface ExpectedAlarm {
  readonly name: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: () => { Name: string; Value: unknown }[];
  /** `Sum`, `Maximum`, or a percentile such as `p99` (CloudFormation's ExtendedStatistic). */
  readonly statistic: string;
  readonly threshold: () => number;
  readonly comparison: 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold';
  readonly treatMissingData: string;
}

const stateMachineAlarms = (label: string): ExpectedAlarm[] =>
  ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionThrottled'].map((metricName) => ({
    name: `Sluice-${label}-${metricName}`,
    namespace: 'AWS/States',
    metricName,
    dimensions: () => [
      { Name: 'StateMachineArn', Value: ref('AWS::StepFunctions::StateMachine', label) },
    ],
    statistic: 'Sum',
    threshold: () => 1,
    comparison: 'GreaterThanOrEqualToThreshold',
    treatMissingData: 'notBreaching',
  }));

const functionAlarms = (fn: (typeof FUNCTIONS)[number]): ExpectedAlarm[] => {
  const dimensions = () => [
    { Name: 'FunctionName', Value: ref('AWS::Lambda::Function', `${fn.id}Function`) },
  ];
  const common = {
    namespace: 'AWS/Lambda',
    dimensions,
    comparison: 'GreaterThanOrEqualToThreshold',
    treatMissingData: 'notBreaching',
  } as const;
  // The Errors alarm is metric math (see ERRORS_ALARMS); these watch one metric each.
  return [
    {
      ...common,
      name: `Sluice-${fn.id}-Throttles`,
      metricName: 'Throttles',
      statistic: 'Sum',
      threshold: () => 1,
    },
    {
      ...common,
      name: `Sluice-${fn.id}-DurationP99`,
      metricName: 'Duration',
      statistic: 'p99',
      // 80% of the registry timeout, in milliseconds.
      threshold: () => fn.timeoutSeconds * 800,
    },
  ];
};

const deadLetterAlarm = (label: string, queuePrefix: string): ExpectedAlarm => ({
  name: `Sluice-${label}-MessagesVisible`,
  namespace: 'AWS/SQS',
  metricName: 'ApproximateNumberOfMessagesVisible',
  dimensions: () => [{ Name: 'QueueName', Value: queueName(queuePrefix) }],
  statistic: 'Maximum',
  threshold: () => 0,
  comparison: 'GreaterThanThreshold',
  treatMissingData: 'notBreaching',
});

/** The delivery stream's buffering interval as synthesized. */
const bufferingSeconds = (): number => {
  const [stream] = Object.values(template.findResources('AWS::KinesisFirehose::DeliveryStream'));
  return stream?.Properties.ExtendedS3DestinationConfiguration.BufferingHints.IntervalInSeconds;
};

const EXPECTED: readonly ExpectedAlarm[] = [
  ...stateMachineAlarms('ProcessFile'),
  ...stateMachineAlarms('ProcessBatch'),
  ...FUNCTIONS.flatMap(functionAlarms),
  deadLetterAlarm('UploadDeadLetters', 'UploadsDeadLetterQueue'),
  deadLetterAlarm('ScheduleDeadLetters', 'SchedulesDeadLetterQueue'),
  {
    name: 'Sluice-AggregatesDelivery-DataFreshness',
    namespace: 'AWS/Firehose',
    metricName: 'DeliveryToS3.DataFreshness',
    dimensions: () => [
      {
        Name: 'DeliveryStreamName',
        Value: ref('AWS::KinesisFirehose::DeliveryStream', 'AggregatesDeliveryStream'),
      },
    ],
    statistic: 'Maximum',
    // Twice the buffering interval, in seconds.
    threshold: () => 2 * bufferingSeconds(),
    comparison: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
  },
  {
    name: 'Sluice-AggregatesStream-IteratorAge',
    namespace: 'AWS/Kinesis',
    metricName: 'GetRecords.IteratorAgeMilliseconds',
    dimensions: () => [
      { Name: 'StreamName', Value: ref('AWS::Kinesis::Stream', 'AggregatesStream') },
    ],
    statistic: 'Maximum',
    threshold: () => 5 * 60 * 1000,
    comparison: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
  },
  {
    name: 'Sluice-Api-ServerErrors',
    namespace: 'AWS/ApiGateway',
    metricName: '5xx',
    dimensions: () => [{ Name: 'ApiId', Value: ref('AWS::ApiGatewayV2::Api', 'Api') }],
    statistic: 'Sum',
    threshold: () => 1,
    comparison: 'GreaterThanOrEqualToThreshold',
    treatMissingData: 'notBreaching',
  },
];

/** Each function's Errors alarm: Lambda's Errors less the InputErrors its file tasks emit. */
const ERRORS_ALARMS = FUNCTIONS.map((fn) => ({ name: `Sluice-${fn.id}-Errors`, fn }));

const ALARM_NAMES = [...EXPECTED.map((e) => e.name), ...ERRORS_ALARMS.map((e) => e.name)];

describe('alarms', () => {
  it('has 3 per state machine, 3 per registry function, 1 per dead-letter queue, 2 for delivery and 1 for the API', () => {
    // THEN a function added to the registry without alarms changes the count and fails here
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(3 * 2 + 3 * FUNCTIONS.length + 2 + 2 + 1);
    expect(
      Object.values(alarms)
        .map((a) => a.Properties.AlarmName)
        .sort(),
    ).toEqual([...ALARM_NAMES].sort());
  });

  it.each(ERRORS_ALARMS.map((e) => [e.name, e.fn] as const))(
    "%s counts only the errors that are not the file's fault, and notifies the topic",
    (_name, fn) => {
      const functionName = ref('AWS::Lambda::Function', `${fn.id}Function`);
      // THEN the alarm judges Lambda's Errors less the InputErrors that fileTask emits, as
      // Powertools dimensions them (its `service`, and `function_name` = Lambda's FunctionName)
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `Sluice-${fn.id}-Errors`,
        Namespace: Match.absent(),
        MetricName: Match.absent(),
        Metrics: [
          {
            Id: Match.anyValue(),
            Expression: 'errors - FILL(inputErrors, 0)',
            Label: Match.anyValue(),
            ReturnData: true,
          },
          {
            Id: 'errors',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/Lambda',
                MetricName: 'Errors',
                Dimensions: [{ Name: 'FunctionName', Value: functionName }],
              },
              Period: 300,
              Stat: 'Sum',
            },
            ReturnData: false,
          },
          {
            Id: 'inputErrors',
            MetricStat: {
              Metric: {
                Namespace: 'sluice',
                MetricName: 'InputErrors',
                Dimensions: [
                  { Name: 'function_name', Value: functionName },
                  { Name: 'service', Value: 'sluice' },
                ],
              },
              Period: 300,
              Stat: 'Sum',
            },
            ReturnData: false,
          },
        ],
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        // AND it notifies the topic when it fires and when it clears
        AlarmActions: [topicRef()],
        OKActions: [topicRef()],
      });
    },
  );

  it('says in the Errors runbook text that quarantined files are left out', () => {
    const [errors] = Object.values(
      template.findResources('AWS::CloudWatch::Alarm', {
        Properties: { AlarmName: 'Sluice-ValidateCsv-Errors' },
      }),
    );
    const description: string = errors?.Properties.AlarmDescription;
    expect(description).toContain('InputError');
    expect(description).toContain('left out of this alarm');
    expect(description).toContain(
      '`sluice executions --status FAILED,QUARANTINED --since 1h --stack Sluice`',
    );
  });

  it.each(EXPECTED.map((e) => [e.name, e] as const))(
    '%s watches its metric and notifies the topic',
    (_name, expected) => {
      // THEN the alarm judges one 5-minute period of the metric against its threshold
      const percentile = /^p\d/.test(expected.statistic);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: expected.name,
        Namespace: expected.namespace,
        MetricName: expected.metricName,
        Dimensions: expected.dimensions(),
        ...(percentile
          ? { ExtendedStatistic: expected.statistic, Statistic: Match.absent() }
          : { Statistic: expected.statistic }),
        Period: 300,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        Threshold: expected.threshold(),
        ComparisonOperator: expected.comparison,
        TreatMissingData: expected.treatMissingData,
        // AND it notifies the topic when it fires and when it clears
        AlarmActions: [topicRef()],
        OKActions: [topicRef()],
      });
    },
  );

  it('alarms on the upload DLQ and on the p99 duration at the registry timeouts', () => {
    // THEN the thresholds follow the sources they came from
    expect(bufferingSeconds()).toBe(60);
    const resize = FUNCTIONS.find((fn) => fn.id === 'ResizeImage');
    expect(resize?.timeoutSeconds).toBe(120);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Sluice-ResizeImage-DurationP99',
      Threshold: 96_000,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Sluice-AggregatesDelivery-DataFreshness',
      Threshold: 120,
    });
  });

  it('says in every description what to do, within CloudWatch’s 1024 characters', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      const description: string = alarm.Properties.AlarmDescription;
      expect(description.length, alarm.Properties.AlarmName).toBeLessThanOrEqual(1024);
      expect(description).toContain("Runbook: README.md, 'Alarms and what to do'.");
    }
    const failed = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { AlarmName: 'Sluice-ProcessFile-ExecutionsFailed' },
    });
    expect(Object.values(failed)[0]?.Properties.AlarmDescription).toContain(
      '`sluice executions --status FAILED,TIMED_OUT --stack Sluice`',
    );
  });
});

describe('the alarm topic', () => {
  it('is encrypted with a rotated customer-managed key that CloudWatch may use', () => {
    const keyId = logicalIdOf(template, 'AWS::KMS::Key', 'ObservabilityTopicKey');
    // THEN the topic names the key
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
    // AND the key rotates and lets CloudWatch alarms encrypt notifications with it
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it("takes only TLS publishes, and this account's alarms'", () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [topicRef()],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topicRef(),
            Condition: {
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          }),
        ]),
      },
    });
  });

  it('is an output, for subscribing', () => {
    template.hasOutput('AlarmTopicArn', { Value: topicRef() });
  });

  it('leaves cdk-nag nothing to report on the observability resources', {
    timeout: SYNTH_TIMEOUT_MS,
  }, () => {
    // WHEN the AwsSolutions pack checks the stack
    const report = new AwsSolutionsChecks().validateScope(synth.stack);
    // THEN no finding is on the topic, its key, its policy, the alarms or the dashboard
    const findings = report.violations.flatMap((v) =>
      v.violatingResources
        .filter(
          (r) =>
            (r.constructPath ?? '').includes('/Observability/') ||
            (r.resourceLogicalId ?? '').startsWith('Observability'),
        )
        .map((r) => `${v.ruleName} ${r.constructPath ?? r.resourceLogicalId}`),
    );
    expect(findings).toEqual([]);
  });
});

/** The dashboard body with each CloudFormation reference replaced by a marker naming it. */
function dashboardBody(): {
  widgets: { type: string; properties: Record<string, unknown> }[];
} {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const parts = dashboard?.Properties.DashboardBody['Fn::Join'][1] as unknown[];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      return token.Ref !== undefined ? `REF:${token.Ref}` : `ATT:${token['Fn::GetAtt']?.join('.')}`;
    })
    .join('');
  return JSON.parse(text);
}

describe('the dashboard', () => {
  it('is one dashboard named sluice', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'sluice' });
  });

  it('shows the status of every alarm', () => {
    // THEN its alarm status widget lists each alarm's ARN, no more, no less
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    const status = dashboardBody().widgets.find((w) => w.type === 'alarm');
    expect([...((status?.properties.alarms ?? []) as string[])].sort()).toEqual(
      alarmIds.map((id) => `ATT:${id}.Arn`).sort(),
    );
  });

  it('goes down the flow: uploads, executions, functions, files and ledger, delivery', () => {
    const headings = dashboardBody()
      .widgets.filter((w) => w.type === 'text')
      .map((w) => w.properties.markdown as string)
      .filter((m) => m.startsWith('## '));
    expect(headings).toEqual([
      '## 1. Uploads',
      '## 2. Executions',
      '## 3. Functions',
      '## 4. Files and the ledger',
      '## 5. Aggregates delivery',
    ]);
    const titles = dashboardBody().widgets.map((w) => w.properties.title);
    expect(titles).toEqual(
      expect.arrayContaining([
        'Upload queue',
        'Dead letters (any is an alarm)',
        'ProcessFile executions',
        'ProcessBatch executions',
        "Errors, not the file's fault",
        'Input errors (quarantined files)',
        'Duration, p99 (ms)',
        'Duration, p99, % of timeout',
        'Stream iterator age (ms)',
        'Firehose freshness (s)',
      ]),
    );
  });

  it("keeps a place for the functions' files-by-status metric", () => {
    // THEN a graph searches namespace sluice for the Files metric, whatever its dimensions
    const files = dashboardBody().widgets.find(
      (w) => w.properties.title === 'Files by status per dataset',
    );
    const expressions = ((files?.properties.metrics ?? []) as unknown[][])
      .flat()
      .flatMap((m) =>
        typeof m === 'object' && m !== null && 'expression' in m ? [m.expression] : [],
      );
    expect(expressions).toEqual([`SEARCH('Namespace="sluice" MetricName="Files"', 'Sum', 300)`]);
  });
  it("graphs each function's errors in two parts: the alarmed ones and the file's fault", () => {
    const widgets = dashboardBody().widgets;
    const metricsOf = (title: string) =>
      (widgets.find((w) => w.properties.title === title)?.properties.metrics ?? []) as unknown[][];
    // THEN one expression per function, each over its own pair of metric ids, as the alarm does
    const expressions = metricsOf("Errors, not the file's fault")
      .flat()
      .flatMap((m) =>
        typeof m === 'object' && m !== null && 'expression' in m ? [m.expression] : [],
      );
    expect(expressions).toEqual(FUNCTIONS.map((_, i) => `e${i} - FILL(i${i}, 0)`));
    // AND the input errors graph has each function's InputErrors with the alarm's dimensions
    const inputErrors = metricsOf('Input errors (quarantined files)');
    expect(inputErrors).toHaveLength(FUNCTIONS.length);
    for (const [i, fn] of FUNCTIONS.entries()) {
      const id = logicalIdOf(template, 'AWS::Lambda::Function', `${fn.id}Function`);
      expect(inputErrors[i]?.slice(0, 6)).toEqual([
        'sluice',
        'InputErrors',
        'function_name',
        `REF:${id}`,
        'service',
        'sluice',
      ]);
    }
  });
});

describe('the runbook', () => {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const runbook = readme.split('### Alarms and what to do')[1]?.split(/\n##+ /)[0] ?? '';

  it('has a row for every kind of alarm', () => {
    // THEN each alarm appears by its name, with `<Function>` standing for any function's id
    expect(runbook).not.toBe('');
    const ids = FUNCTIONS.map((fn) => fn.id as string);
    const rows = new Set(
      ALARM_NAMES.map((name) => {
        const [, resource, kind] = name.split('-');
        return `\`<stack>-${ids.includes(String(resource)) ? '<Function>' : resource}-${kind}\``;
      }),
    );
    for (const row of rows) expect(runbook).toContain(row);
  });

  it('uses only sluice commands and options that exist', async () => {
    // GIVEN every `sluice <command> …` the runbook quotes
    const quoted = [...runbook.matchAll(/`sluice ([a-z]+)([^`]*)`/g)];
    expect(quoted.length).toBeGreaterThan(0);
    for (const [snippet, name, rest] of quoted) {
      // WHEN the CLI loads that command
      const program = await buildProgram(['node', 'sluice', String(name)]);
      const command = program.commands.find((c) => c.name() === name);
      // THEN it exists and knows each option quoted with it
      expect(command, snippet).toBeDefined();
      const known = new Set(command?.options.flatMap((o) => [o.long, o.short]));
      for (const [, option] of String(rest).matchAll(/(?:^|\s)(--?[a-z][a-z-]*)/g)) {
        expect(known.has(option), `${snippet}: ${option}`).toBe(true);
      }
    }
  });
});
