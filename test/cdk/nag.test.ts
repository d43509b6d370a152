import { App } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  acknowledgeNagFindings,
  type NagAcknowledgement,
  nagAcknowledgements,
} from '../../lib/nag-acknowledgements.ts';
import { SluiceStack } from '../../lib/sluice-stack.ts';
import { SYNTH_TIMEOUT_MS } from './stack-fixture.ts';

/** A finding as cdk-nag reports it: the rule (with its finding) and the construct paths. */
interface Finding {
  readonly ruleName: string;
  readonly severity?: string;
  readonly paths: readonly string[];
}

const check = (stack: SluiceStack): Finding[] =>
  new AwsSolutionsChecks().validateScope(stack).violations.map((v) => ({
    ruleName: v.ruleName,
    severity: v.severity,
    paths: v.violatingResources.map((r) => r.constructPath ?? ''),
  }));

/** The stack, synthesized first as `cdk synth` does before its validation plugins run. */
const build = (acknowledged: boolean): SluiceStack => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SluiceStack(app, 'Sluice');
  if (acknowledged) acknowledgeNagFindings(stack);
  app.synth();
  return stack;
};

let acknowledgements: NagAcknowledgement[];
let unacknowledged: Finding[];
let bare: Finding[];

beforeAll(() => {
  // GIVEN the stack as lib/app.ts builds it, with its acknowledgements
  const stack = build(true);
  acknowledgements = nagAcknowledgements(stack);
  // WHEN the AwsSolutions pack checks it, and a second stack with no acknowledgements
  unacknowledged = check(stack);
  bare = check(build(false));
}, SYNTH_TIMEOUT_MS * 2);

describe('AwsSolutions checks', () => {
  it('find no unacknowledged error or warning', () => {
    // THEN nothing is left, whatever its severity
    expect(
      unacknowledged.map((f) => `${f.severity} ${f.ruleName} at ${f.paths.join(', ')}`),
    ).toEqual([]);
  });

  it('find every acknowledged finding on a stack without the acknowledgements', () => {
    // THEN each acknowledgement still matches a finding under its construct, so none is stale
    const stale = acknowledgements.filter(
      ({ scope, id }) =>
        !bare.some(
          (f) =>
            f.ruleName === id &&
            f.paths.some((p) => p === scope.node.path || p.startsWith(`${scope.node.path}/`)),
        ),
    );
    expect(stale.map(({ scope, id }) => `${id} at ${scope.node.path}`)).toEqual([]);
  });

  it('acknowledge only IAM5 wildcards AWS cannot narrow and three named resources', () => {
    // THEN the rules acknowledged are these, and no managed policy on sluice's own roles
    const rules = [...new Set(acknowledgements.map(({ id }) => id.replace(/\[.*$/, '')))].sort();
    expect(rules).toEqual([
      'AwsSolutions-IAM4',
      'AwsSolutions-IAM5',
      'AwsSolutions-KDF1',
      'AwsSolutions-SQS3',
    ]);
    const managed = acknowledgements.filter(({ id }) => id.startsWith('AwsSolutions-IAM4'));
    expect(managed.map(({ scope }) => scope.node.id)).toEqual([
      expect.stringMatching(/^BucketNotificationsHandler/),
    ]);
  });
});

describe('the acknowledgements', () => {
  it('list each finding once per construct', () => {
    const keys = acknowledgements.map(({ scope, id }) => `${scope.node.path} ${id}`);
    expect(keys.length).toBeGreaterThan(0);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('each say why, in a sentence rather than a placeholder', () => {
    const placeholder = /^\s*$|\b(todo|tbd|fixme|xxx|placeholder|suppress(ed)?|ignore[d]?|n\/a)\b/i;
    const vague = acknowledgements.filter(
      ({ reason }) => placeholder.test(reason) || reason.trim().split(/\s+/).length < 6,
    );
    expect(
      vague.map(({ scope, id, reason }) => `${id} at ${scope.node.path}: '${reason}'`),
    ).toEqual([]);
  });
});
