import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { PROJECT_ROOT } from '../../lib/sluice-function.ts';
import { SluiceStack, type SluiceStackProps } from '../../lib/sluice-stack.ts';

/** The ProcessFile definition as the repository holds it, placeholders and all. */
export const ASL_FILE = path.join(PROJECT_ROOT, 'statemachine', 'process-file.asl.json');
export const aslText = (): string => readFileSync(ASL_FILE, 'utf8');

/** The ProcessBatch definition as the repository holds it. */
export const BATCH_ASL_FILE = path.join(PROJECT_ROOT, 'statemachine', 'process-batch.asl.json');
export const batchAslText = (): string => readFileSync(BATCH_ASL_FILE, 'utf8');

/** Writes a schedules declaration (the `schedules.json` format) to a new temp file; its path. */
export function writeSchedulesFile(declaration: unknown): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sluice-schedules-')), 'schedules.json');
  writeFileSync(file, JSON.stringify(declaration));
  return file;
}

/** A synth takes 2–4 s alone, several times that on a loaded two-core machine. */
export const SYNTH_TIMEOUT_MS = 60_000;

export interface SynthesizedStack {
  readonly stack: SluiceStack;
  readonly template: Template;
  readonly assembly: CloudAssembly;
}

/** Synthesizes the stack once, with bundling skipped so a test costs seconds, not a build. */
export function synthesizeStack(props: SluiceStackProps = {}): SynthesizedStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new SluiceStack(app, 'Sluice', props);
  const template = Template.fromStack(stack);
  return { stack, template, assembly: app.synth() };
}

/** The one resource of a type whose logical id starts with a construct path's prefix. */
export function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) {
    throw new Error(
      `Expected one ${type} starting with '${prefix}', found ${ids.length}: ${ids.join(', ')}`,
    );
  }
  return ids[0] as string;
}

/** An IAM policy statement as synthesized. */
export interface SynthesizedStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/**
 * Every statement of the `AWS::IAM::Policy` resources attached to one role, by policy logical id,
 * so a test can tell the role's default policy from the others.
 */
export function statementsByPolicy(
  template: Template,
  roleLogicalId: string,
): Record<string, SynthesizedStatement[]> {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: roleLogicalId }] },
  });
  return Object.fromEntries(
    Object.entries(policies).map(([id, policy]) => [
      id,
      policy.Properties.PolicyDocument.Statement as SynthesizedStatement[],
    ]),
  );
}
