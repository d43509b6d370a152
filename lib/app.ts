import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { apiAuthorizationFromContext } from './http-api.ts';
import { acknowledgeNagFindings } from './nag-acknowledgements.ts';
import { SluiceStack } from './sluice-stack.ts';

const app = new App();

// Environment-agnostic unless the CLI knows the target, so `cdk synth` needs no AWS account.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

const stack = new SluiceStack(app, 'Sluice', {
  description: 'sluice: serverless file-ETL pipeline (images and CSV) on Step Functions',
  env: account && region ? { account, region } : undefined,
  // `-c sluice:reserveConcurrency=true` arrives as a string, cdk.json's value as a boolean.
  reserveConcurrency: String(app.node.tryGetContext('sluice:reserveConcurrency')) === 'true',
  // `sluice:apiAuth`, `sluice:apiJwtIssuer`, `sluice:apiJwtAudience`: IAM unless a JWT issuer is set.
  apiAuthorization: apiAuthorizationFromContext(app),
});

// Lets cost allocation and resource groups find everything sluice deploys.
Tags.of(app).add('project', 'sluice');

// Any AwsSolutions finding, error or warning, fails the synth unless lib/nag-acknowledgements.ts
// says why it cannot be fixed.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
acknowledgeNagFindings(stack);
