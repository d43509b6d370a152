import { SNSClient } from '@aws-sdk/client-sns';
import { CLIENT_DEFAULTS } from './defaults.ts';

export const sns = new SNSClient({ ...CLIENT_DEFAULTS });
