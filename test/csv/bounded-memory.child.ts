// Run by bounded-memory.test.ts in a child with a small V8 heap: validates a generated
// multi-hundred-MB CSV and prints the counts and the peak RSS as JSON.
import { Readable, Writable } from 'node:stream';
import { parseTableSchema, validateCsv } from '#commons/csv/index.ts';

const rows = Number(process.argv[2]);
const note = 'x'.repeat(100);

function* csv(): Generator<Buffer> {
  let batch = 'id,amount,note\n';
  for (let i = 1; i <= rows; i++) {
    // Every 1000th row repeats the previous id. Text ids (not integers, which are kept as
    // ranges) go through the hash table, so uniqueness is checked across spilled runs.
    batch += `ORD-${i % 1000 === 0 ? i - 1 : i},${i % 100},${note}\n`;
    if (batch.length > 65_536) {
      yield Buffer.from(batch);
      batch = '';
    }
  }
  yield Buffer.from(batch);
}

let written = 0;
const discard = () =>
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      done();
    },
  });
const schema = parseTableSchema({
  fields: [
    { name: 'id', constraints: { pattern: 'ORD-\\d+' } },
    { name: 'amount', type: 'number', constraints: { minimum: 0 } },
    { name: 'note' },
  ],
  primaryKey: 'id',
});
const report = await validateCsv(Readable.from(csv()), schema, {
  valid: discard(),
  invalid: discard(),
});
process.stdout.write(
  JSON.stringify({
    rows: report.stats.rows,
    invalidRows: report.stats.invalidRows,
    bytes: report.stats.bytes,
    written,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
);
