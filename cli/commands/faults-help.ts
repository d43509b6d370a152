/** `--faults` of `up` and `run`: what a rules file holds. */
export const FAULTS_HELP =
  '\nFault injection: --faults <file> (or SLUICE_FAULTS=<file>) puts a fault layer in front of every\n' +
  'local endpoint and the Lambda invoke path. The file is a JSON array of LocalStack-style chaos\n' +
  'rules: {"service": "s3", "operation": "PutObject", "probability": 0.1, "seed": 7,\n' +
  '"error": {"code": "SlowDown", "statusCode": 503}}; instead of "error" a rule may have\n' +
  '"latency": <ms>, "reset": true, "commitThenReset": true (the write is applied, the answer is\n' +
  'lost) or, for kinesis PutRecords, "recordFailures": {"code": "ProvisionedThroughputExceededException"}.\n' +
  '"startMs" and "durationMs" limit a rule to a window, "afterCalls" spares the first calls and\n' +
  '"times" caps the hits. On stop, <data-dir>/faults-report.json counts what was injected.\n';
