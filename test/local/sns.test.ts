import { ListTopicsCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalEndpoint } from '#local/emulators/endpoint.ts';
import { MessageLog, startLocalSns } from '#local/emulators/sns.ts';

const TOPIC = 'arn:aws:sns:us-east-1:000000000000:sluice-notices';
const log = new MessageLog();
let sns: LocalEndpoint;
let client: SNSClient;

beforeAll(async () => {
  sns = await startLocalSns({ topicArn: TOPIC, log });
  client = new SNSClient({
    endpoint: sns.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

afterAll(async () => {
  client.destroy();
  await sns.close();
});

describe('the local SNS', () => {
  it('keeps what SDK v3 publishes, with its subject and attributes', async () => {
    // Act
    const { MessageId } = await client.send(
      new PublishCommand({
        TopicArn: TOPIC,
        Subject: 'a subject',
        Message: '{"kind":"FileFailed"}',
        MessageAttributes: { dataset: { DataType: 'String', StringValue: 'orders' } },
      }),
    );

    // Assess
    expect(log.list()).toEqual([
      expect.objectContaining({
        messageId: MessageId,
        topicArn: TOPIC,
        subject: 'a subject',
        message: '{"kind":"FileFailed"}',
        attributes: { dataset: 'orders' },
      }),
    ]);
  });

  it('lists its one topic', async () => {
    const { Topics } = await client.send(new ListTopicsCommand({}));
    expect(Topics).toEqual([{ TopicArn: TOPIC }]);
  });

  it('refuses another topic and a subject over 100 characters, as SNS does', async () => {
    // Act
    const otherTopic = client.send(
      new PublishCommand({ TopicArn: `${TOPIC}-other`, Message: 'x' }),
    );
    const longSubject = client.send(
      new PublishCommand({ TopicArn: TOPIC, Message: 'x', Subject: 's'.repeat(101) }),
    );

    // Assess
    await expect(otherTopic).rejects.toMatchObject({ name: 'NotFoundException' });
    await expect(longSubject).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });
});
