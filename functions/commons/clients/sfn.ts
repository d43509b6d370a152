import { SFNClient } from '@aws-sdk/client-sfn';
import { CLIENT_DEFAULTS } from './defaults.ts';

export const sfn = new SFNClient({ ...CLIENT_DEFAULTS });
