import { App } from 'aws-cdk-lib';
import { SluiceStack } from './sluice-stack.ts';

const app = new App();

// Environment-agnostic unless the CLI knows the target, so `cdk synth` needs no AWS account.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new SluiceStack(app, 'Sluice', {
  description: 'sluice: serverless file-ETL pipeline (images and CSV) on Step Functions',
  env: account && region ? { account, region } : undefined,
  reserveConcurrency: app.node.tryGetContext('sluice:reserveConcurrency') === true,
});
