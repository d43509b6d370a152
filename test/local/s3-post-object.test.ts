import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost, type PresignedPost } from '@aws-sdk/s3-presigned-post';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/endpoint.ts';
import { encodeS3EventKey, localS3Client, type S3ObjectCreatedEvent } from '#local/emulators/s3.ts';
import { type EdgeRouter, startEdgeRouter } from '#local/service/edge-router.ts';
import { useLocalS3 } from '../fixtures/local/s3.ts';

const run = promisify(execFile);
// biome-ignore lint/suspicious/noTemplateCurlyInString: S3's form variable, not JavaScript's
const FILENAME = '${filename}';
const md5 = (data: Uint8Array | string): string => createHash('md5').update(data).digest('hex');

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
}

/** The `<Code>` of S3's XML error. */
const codeOf = (answer: Pick<Answer, 'body'>) => /<Code>([^<]*)<\/Code>/.exec(answer.body)?.[1];
const messageOf = (answer: Pick<Answer, 'body'>) =>
  /<Message>([^<]*)<\/Message>/.exec(answer.body)?.[1];

/** Posts a form as a browser's fetch does: the fields in order, then the file. */
async function postForm(
  url: string,
  fields: Readonly<Record<string, string>>,
  file: { readonly bytes: Uint8Array; readonly name: string },
  init: RequestInit = {},
): Promise<Answer> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([file.bytes], { type: 'application/octet-stream' }), file.name);
  const response = await fetch(url, { method: 'POST', body: form, ...init });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** Posts a form with `curl -F`: fields taken literally, then the file from disk. */
async function curlForm(
  url: string,
  fields: Readonly<Record<string, string>>,
  path: string,
  extra: readonly string[] = [],
): Promise<Omit<Answer, 'headers'>> {
  const args = ['-sS', '-o', '-', '-w', '\n%{http_code}', ...extra];
  for (const [name, value] of Object.entries(fields))
    args.push('--form-string', `${name}=${value}`);
  args.push('-F', `file=@${path}`, url);
  const { stdout } = await run('curl', args);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

describe('POST Object on the local S3', () => {
  const bucket = 'sluice-forms';
  const events: S3ObjectCreatedEvent[] = [];
  const local = useLocalS3({ bucket, onObjectCreated: (event) => events.push(event) });

  /** Events are delivered before the form is answered, so there is no waiting for them. */
  const eventsFor = (key: string) =>
    events.filter((event) => event.detail.object.key === encodeS3EventKey(key));

  /** A presigned POST as the API hands partners: one key, 1 byte to `limit`, a CSV. */
  const presign = (
    key: string,
    options: {
      readonly limit?: number;
      readonly expires?: number;
      readonly fields?: Record<string, string>;
      readonly signer?: S3Client;
    } = {},
  ): Promise<PresignedPost> =>
    createPresignedPost(options.signer ?? local.client, {
      Bucket: bucket,
      Key: key,
      Conditions: [['content-length-range', 1, options.limit ?? 1024 * 1024]],
      Fields: { 'Content-Type': 'text/csv', ...options.fields },
      Expires: options.expires ?? 300,
    });

  const stored = async (key: string) => {
    const object = await local.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    return { bytes, contentType: object.ContentType };
  };

  const absent = (key: string) =>
    expect(
      local.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
    ).rejects.toMatchObject({
      name: 'NotFound',
    });

  it('stores a presigned form upload byte for byte, typed, and reports it as PostObject', async () => {
    // Prepare
    const key = 'incoming/partners/orders 2026.csv';
    const csv = Buffer.from('id,name\n1,Zoë\n2,Łukasz\n');
    const post = await presign(key);

    // Act
    const answer = await postForm(
      post.url,
      { ...post.fields, 'x-ignore-note': 'not in the policy, and need not be' },
      { bytes: csv, name: 'orders.csv' },
    );

    // Assess
    expect(answer.status).toBe(204);
    expect(answer.headers.get('etag')).toBe(`"${md5(csv)}"`);
    const object = await stored(key);
    expect(object.bytes.equals(csv)).toBe(true);
    expect(object.contentType).toBe('text/csv');
    const [event, ...others] = eventsFor(key);
    expect(others).toEqual([]);
    expect(event?.detail).toMatchObject({
      bucket: { name: bucket },
      object: { key: 'incoming/partners/orders+2026.csv', size: csv.length, etag: md5(csv) },
      reason: 'PostObject',
      'request-id': answer.headers.get('x-amz-request-id'),
    });
  });

  it('substitutes the filename variable into a starts-with key, for a file sent by curl -F', async () => {
    // Prepare
    const photo = randomBytes(300 * 1024);
    const path = join(local.directory, 'dune 7.png');
    await writeFile(path, photo);
    const post = await presign(`incoming/photos/${FILENAME}`, {
      fields: { 'Content-Type': 'image/png' },
    });

    // Act
    const answer = await curlForm(post.url, post.fields, path);

    // Assess
    expect(answer.status).toBe(204);
    const object = await stored('incoming/photos/dune 7.png');
    expect(md5(object.bytes)).toBe(md5(photo));
    expect(object.contentType).toBe('image/png');
    expect(eventsFor('incoming/photos/dune 7.png')).toHaveLength(1);
  });

  it('stores a file sent as a text field, without a filename', async () => {
    // Prepare: FormData sends a string as a plain field, with no filename (and CRLF line ends).
    const key = 'incoming/partners/typed-in.csv';
    const csv = 'id,note\r\n1,typed é\r\n';
    const post = await presign(key);
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append('file', csv);

    // Act
    const response = await fetch(post.url, { method: 'POST', body: form });

    // Assess
    expect(response.status).toBe(204);
    expect((await stored(key)).bytes.toString()).toBe(csv);
  });

  it('stores nothing from a form cut off mid-file, and leaves the key writable', async () => {
    // Prepare
    const key = 'incoming/partners/cut-off.csv';
    const post = await presign(key);
    const boundary = 'sluiceCutOff';
    const head = [
      ...Object.entries(post.fields).map(
        ([name, value]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      ),
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n\r\n`,
    ].join('');
    const { hostname, port, pathname } = new URL(post.url);

    // Act: half of a declared body, then the connection goes.
    await new Promise<void>((resolve) => {
      const request = httpRequest({
        host: hostname,
        port,
        path: pathname,
        method: 'POST',
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': head.length + 2000,
        },
      });
      request.on('error', () => resolve());
      request.on('close', () => resolve());
      request.write(head);
      request.write('x'.repeat(1000), () => request.destroy());
    });
    // Queued behind any write of the same key still open, so it would hang if one were stuck.
    await local.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'put\n' }));

    // Assess
    expect((await stored(key)).bytes.toString()).toBe('put\n');
    expect(eventsFor(key).map((event) => event.detail.reason)).toEqual(['PutObject']);
  });

  it('refuses a file over the content-length-range with EntityTooLarge, and stores nothing', async () => {
    // Prepare: a body many times the limit, so that it is refused mid-stream.
    const key = 'incoming/partners/too-big.csv';
    const post = await presign(key, { limit: 1024 * 1024 });

    // Act
    const answer = await postForm(post.url, post.fields, {
      bytes: Buffer.alloc(3 * 1024 * 1024 + 1, 'x'),
      name: 'too-big.csv',
    });

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([400, 'EntityTooLarge']);
    await absent(key);
    expect(eventsFor(key)).toEqual([]);
  });

  it('refuses one byte over the range with curl too', async () => {
    // Prepare
    const key = 'incoming/partners/seventeen.csv';
    const path = join(local.directory, 'seventeen.csv');
    await writeFile(path, 'a'.repeat(17));
    const post = await presign(key, { limit: 16 });

    // Act
    const answer = await curlForm(post.url, post.fields, path);

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([400, 'EntityTooLarge']);
    await absent(key);
  });

  it('keeps the object in place when an overwrite of it is refused', async () => {
    // Prepare
    const key = 'incoming/partners/kept.csv';
    await local.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'id\n1\n' }));
    const post = await presign(key, { limit: 8 });

    // Act
    const answer = await postForm(post.url, post.fields, {
      bytes: Buffer.from('id\n1\n2\n3\n4\n'),
      name: 'kept.csv',
    });

    // Assess
    expect(codeOf(answer)).toBe('EntityTooLarge');
    expect((await stored(key)).bytes.toString()).toBe('id\n1\n');
  });

  it('refuses an empty file with EntityTooSmall', async () => {
    // Prepare
    const key = 'incoming/partners/empty.csv';
    const post = await presign(key);

    // Act
    const answer = await postForm(post.url, post.fields, { bytes: Buffer.alloc(0), name: 'e.csv' });

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([400, 'EntityTooSmall']);
    await absent(key);
    expect(eventsFor(key)).toEqual([]);
  });

  it('refuses an expired policy with AccessDenied', async () => {
    // Prepare
    const key = 'incoming/partners/late.csv';
    const post = await presign(key, { expires: -60 });

    // Act
    const answer = await postForm(post.url, post.fields, {
      bytes: Buffer.from('x'),
      name: 'l.csv',
    });

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([403, 'AccessDenied']);
    expect(messageOf(answer)).toBe('Invalid according to Policy: Policy expired.');
    await absent(key);
  });

  it('refuses a key other than the pinned one with AccessDenied', async () => {
    // Prepare
    const post = await presign('incoming/partners/a.csv');

    // Act
    const answer = await postForm(
      post.url,
      { ...post.fields, key: 'incoming/partners/b.csv' },
      { bytes: Buffer.from('x'), name: 'b.csv' },
    );

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([403, 'AccessDenied']);
    expect(messageOf(answer)).toBe(
      'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "incoming/partners/a.csv"]',
    );
    await absent('incoming/partners/b.csv');
  });

  it('refuses a key outside the pinned prefix with AccessDenied', async () => {
    // Prepare
    const post = await presign(`incoming/partners/${FILENAME}`);

    // Act
    const answer = await postForm(
      post.url,
      { ...post.fields, key: `quarantine/${FILENAME}` },
      { bytes: Buffer.from('x'), name: 'c.csv' },
    );

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([403, 'AccessDenied']);
    expect(messageOf(answer)).toContain('["starts-with", "$key", "incoming/partners/"]');
    await absent('quarantine/c.csv');
  });

  it('refuses a field the policy does not name with AccessDenied', async () => {
    // Prepare
    const key = 'incoming/partners/extra.csv';
    const post = await presign(key);

    // Act
    const answer = await postForm(
      post.url,
      { ...post.fields, 'x-amz-meta-owner': 'someone else' },
      { bytes: Buffer.from('x'), name: 'extra.csv' },
    );

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([403, 'AccessDenied']);
    expect(messageOf(answer)).toBe(
      'Invalid according to Policy: Extra input fields: x-amz-meta-owner',
    );
    await absent(key);
  });

  it('refuses a tampered policy, and a tampered signature, with SignatureDoesNotMatch', async () => {
    // Prepare: the policy with its size limit raised, and the signature with one digit changed.
    const key = 'incoming/partners/tampered.csv';
    const post = await presign(key, { limit: 4 });
    const policy = JSON.parse(Buffer.from(post.fields.Policy ?? '', 'base64').toString());
    policy.conditions[0] = ['content-length-range', 1, 1_000_000];
    const raisedPolicy = Buffer.from(JSON.stringify(policy)).toString('base64');
    const signature = post.fields['X-Amz-Signature'] ?? '';
    const otherSignature = `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;
    const file = { bytes: Buffer.from('0123456789'), name: 'tampered.csv' };

    // Act
    const answers = [
      await postForm(post.url, { ...post.fields, Policy: raisedPolicy }, file),
      await postForm(post.url, { ...post.fields, 'X-Amz-Signature': otherSignature }, file),
    ];

    // Assess
    expect(answers.map((answer) => [answer.status, codeOf(answer)])).toEqual([
      [403, 'SignatureDoesNotMatch'],
      [403, 'SignatureDoesNotMatch'],
    ]);
    await absent(key);
  });

  it('takes any signature from a key whose secret the local stack does not know', async () => {
    // Prepare
    const key = 'incoming/partners/unknown-key.csv';
    const signer = new S3Client({
      endpoint: local.s3.endpoint,
      region: LOCAL_REGION,
      forcePathStyle: true,
      credentials: { accessKeyId: 'PARTNERKEY', secretAccessKey: 'not known offline' },
    });
    const post = await presign(key, { signer });
    signer.destroy();

    // Act
    const answer = await postForm(
      post.url,
      { ...post.fields, 'X-Amz-Signature': '0'.repeat(64) },
      { bytes: Buffer.from('x\n'), name: 'u.csv' },
    );

    // Assess
    expect(answer.status).toBe(204);
    expect((await stored(key)).bytes.toString()).toBe('x\n');
  });

  it('refuses a form with no policy as an anonymous one, AccessDenied', async () => {
    // Prepare
    const key = 'incoming/partners/anonymous.csv';
    const { Policy: _policy, ...fields } = (await presign(key)).fields;

    // Act
    const answer = await postForm(`${local.s3.endpoint}/${bucket}`, fields, {
      bytes: Buffer.from('x'),
      name: 'a.csv',
    });

    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([403, 'AccessDenied']);
    await absent(key);
  });

  it('answers success_action_status 201 with a PostResponse naming the key', async () => {
    // Prepare
    const key = 'incoming/partners/created é.csv';
    const post = await presign(key, { fields: { success_action_status: '201' } });

    // Act
    const answer = await postForm(post.url, post.fields, {
      bytes: Buffer.from('id\n7\n'),
      name: 'c.csv',
    });

    // Assess
    expect(answer.status).toBe(201);
    expect(answer.body).toContain(`<Bucket>${bucket}</Bucket>`);
    expect(answer.body).toContain(`<Key>${key}</Key>`);
    expect(answer.body).toContain(`<ETag>"${md5('id\n7\n')}"</ETag>`);
    expect(answer.body).toContain(
      `<Location>${local.s3.endpoint}/${bucket}/incoming/partners/created%20%C3%A9.csv</Location>`,
    );
  });

  it('redirects to success_action_redirect with the bucket, key and ETag', async () => {
    // Prepare
    const key = 'incoming/partners/redirected.csv';
    const post = await presign(key, {
      fields: { success_action_redirect: 'https://partner.example/done?upload=1' },
    });

    // Act
    const answer = await postForm(
      post.url,
      post.fields,
      { bytes: Buffer.from('id\n'), name: 'r.csv' },
      { redirect: 'manual' },
    );

    // Assess
    expect(answer.status).toBe(303);
    const location = new URL(answer.headers.get('location') ?? '');
    expect(location.origin + location.pathname).toBe('https://partner.example/done');
    expect(Object.fromEntries(location.searchParams)).toEqual({
      upload: '1',
      bucket,
      key,
      etag: `"${md5('id\n')}"`,
    });
  });

  it('checks a SigV2 form (AWSAccessKeyId, Signature) with the local secret', async () => {
    // Prepare: the AWS CLI v1 and boto2 sign forms this way.
    const key = 'incoming/partners/v2.csv';
    const policy = Buffer.from(
      JSON.stringify({
        expiration: new Date(Date.now() + 300_000).toISOString(),
        conditions: [{ bucket }, { key }, ['content-length-range', 1, 100]],
      }),
    ).toString('base64');
    const sign = (secret: string) => createHmac('sha1', secret).update(policy).digest('base64');
    const fields = { key, AWSAccessKeyId: LOCAL_CREDENTIALS.accessKeyId, Policy: policy };
    const file = { bytes: Buffer.from('v2\n'), name: 'v2.csv' };
    const url = `${local.s3.endpoint}/${bucket}`;

    // Act
    const wrong = await postForm(url, { ...fields, Signature: sign('wrong secret') }, file);
    const right = await postForm(
      url,
      { ...fields, Signature: sign(LOCAL_CREDENTIALS.secretAccessKey) },
      file,
    );

    // Assess
    expect([wrong.status, codeOf(wrong)]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(right.status).toBe(204);
    expect((await stored(key)).bytes.toString()).toBe('v2\n');
  });

  describe('through the edge router', () => {
    let router: EdgeRouter;
    let edgeClient: S3Client;

    beforeAll(async () => {
      const endpoint = local.s3.endpoint;
      router = await startEdgeRouter({
        port: 0,
        // Only S3 is called here.
        routes: {
          s3: endpoint,
          dynamodb: endpoint,
          kinesis: endpoint,
          stepfunctions: endpoint,
          sqs: endpoint,
          sns: endpoint,
        },
        controls: { version: 'test', endpointInfo: () => undefined },
      });
      edgeClient = localS3Client(router.endpoint);
    });

    afterAll(async () => {
      edgeClient.destroy();
      await router.close();
    });

    it('passes a path-style form through, and still refuses a tampered one', async () => {
      // Prepare
      const key = 'incoming/edge/path.csv';
      const post = await presign(key, { signer: edgeClient });
      const file = { bytes: Buffer.from('id\n1\n'), name: 'path.csv' };

      // Act
      const tampered = await postForm(
        post.url,
        { ...post.fields, 'X-Amz-Signature': '0'.repeat(64) },
        file,
      );
      const answer = await postForm(post.url, post.fields, file);

      // Assess
      expect(post.url).toBe(`${router.endpoint}/${bucket}`);
      expect(codeOf(tampered)).toBe('SignatureDoesNotMatch');
      expect(answer.status).toBe(204);
      expect((await stored(key)).bytes.toString()).toBe('id\n1\n');
      expect(eventsFor(key)).toHaveLength(1);
    });

    it('passes a virtual-host-style form through', async () => {
      // Prepare
      const key = 'incoming/edge/vhost.csv';
      const path = join(local.directory, 'vhost.csv');
      await writeFile(path, 'id\n2\n');
      const post = await presign(key, { signer: edgeClient });

      // Act
      const answer = await curlForm(`${router.endpoint}/`, post.fields, path, [
        '-H',
        `Host: ${bucket}.s3.localhost:${router.port}`,
      ]);

      // Assess
      expect(answer.status).toBe(204);
      expect((await stored(key)).bytes.toString()).toBe('id\n2\n');
    });
  });
});
