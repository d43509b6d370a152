import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

/** Columns of the generated orders file, in order. */
export const ORDERS_HEADER = 'id,email,amount,currency,country,order_date,status,note';

const COUNTRIES = ['FR', 'DE', 'ES', 'IT', 'NL', 'BE', 'PT', 'IE', 'GB', 'US'];
const STATUSES = ['pending', 'paid', 'shipped', 'cancelled'];
const CURRENCIES = ['EUR', 'USD', 'GBP'];
const NOTES = [
  'gift wrap',
  '',
  'leave at the door',
  '"fragile, handle with care"',
  'call before delivery',
  '"the ""blue"" one"',
  '',
  'express',
];
// One bad row in fifty gives the issue's ~2%; each has exactly one defect so the expected
// invalid-row count is known without validating.
const BAD_EVERY = 50;
const DEFECTS = 7;

/** The Table Schema that the generated orders file is checked against. */
export const ORDERS_SCHEMA = {
  fields: [
    { name: 'id', type: 'integer', constraints: { required: true, unique: true } },
    { name: 'email', type: 'string', format: 'email', constraints: { required: true } },
    { name: 'amount', type: 'number', constraints: { required: true, minimum: 0 } },
    { name: 'currency', type: 'string', constraints: { pattern: '[A-Z]{3}' } },
    { name: 'country', type: 'string', constraints: { enum: COUNTRIES } },
    { name: 'order_date', type: 'date' },
    { name: 'status', type: 'string', constraints: { required: true, enum: STATUSES } },
    { name: 'note', type: 'string' },
  ],
  primaryKey: 'id',
};

function row(i: number): string {
  const day = String((i % 28) + 1).padStart(2, '0');
  const month = String((i % 12) + 1).padStart(2, '0');
  const cells = [
    String(i + 1),
    `user${i % 9973}@example.com`,
    (((i * 7919) % 100000) / 100).toFixed(2),
    CURRENCIES[i % 3] as string,
    COUNTRIES[i % COUNTRIES.length] as string,
    `2026-${month}-${day}`,
    STATUSES[i % STATUSES.length] as string,
    NOTES[i % NOTES.length] as string,
  ];
  if (i % BAD_EVERY === 7) {
    switch (Math.floor(i / BAD_EVERY) % DEFECTS) {
      case 0:
        cells[2] = '-12.50';
        break;
      case 1:
        cells[1] = 'not-an-email';
        break;
      case 2:
        cells[4] = 'XX';
        break;
      case 3:
        cells[5] = '2026-02-30';
        break;
      case 4:
        cells[6] = 'lost';
        break;
      case 5:
        // A duplicate of the previous row's id: the unique/primary-key check must catch it.
        cells[0] = String(i);
        break;
      default:
        cells[0] = 'abc';
    }
  }
  return cells.join(',');
}

/** Writes `rows` data rows to `path` and resolves to the number of rows built to be invalid. */
export async function generateOrders(path: string, rows: number): Promise<number> {
  const out = createWriteStream(path);
  let invalid = 0;
  let batch: string[] = [ORDERS_HEADER];
  for (let i = 0; i < rows; i++) {
    if (i % BAD_EVERY === 7) invalid++;
    batch.push(row(i));
    if (batch.length >= 10_000) {
      if (!out.write(`${batch.join('\n')}\n`)) await once(out, 'drain');
      batch = [];
    }
  }
  if (batch.length > 0) out.write(`${batch.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
  return invalid;
}
