import { S3Client } from '@aws-sdk/client-s3';
import { CLIENT_DEFAULTS } from './defaults.ts';

/**
 * One client per execution environment. Checksums only when required: emulators store a
 * streamed body still wrapped in aws-chunked framing otherwise, and S3 itself needs none here.
 */
export const s3 = new S3Client({
  ...CLIENT_DEFAULTS,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  forcePathStyle: true,
});
