import { afterEach, describe, expect, it } from 'vitest';
import { Clock } from '../../../../../local/clock.js';
import { DispatchError, Dispatcher } from '../../../../../local/dispatch.js';
import { SqsService, type SqsWireMessage } from '../../../../../local/aws/sqs/service.js';
import { registerSqsTarget } from '../../../../../local/aws/sqs/target.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function setup() {
  const sqs = await SqsService.start({ region: 'us-east-1', clock: new Clock(1), endpoint: 'http://127.0.0.1:4599' });
  stops.push(() => sqs.stop());
  const dispatcher = new Dispatcher();
  registerSqsTarget(dispatcher, sqs);
  const { QueueUrl } = await sqs.call<{ QueueUrl: string }>('CreateQueue', { QueueName: 'rule-dlq' });
  const receive = async () =>
    (
      await sqs.call<{ Messages?: SqsWireMessage[] }>('ReceiveMessage', {
        QueueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      })
    ).Messages ?? [];
  return { sqs, dispatcher, receive, arn: sqs.queueArn('rule-dlq') };
}

describe('the sqs dispatcher target', () => {
  it('sends a string payload as is and anything else as JSON', async () => {
    const { dispatcher, receive, arn } = await setup();
    const sent = await dispatcher.deliver(arn, 'plain');
    await dispatcher.deliver(arn, { detail: { id: 1 } });
    expect(sent.payload).toMatchObject({ MessageId: expect.any(String) });
    expect((await receive()).map((m) => m.Body)).toEqual(['plain', '{"detail":{"id":1}}']);
  });

  it('carries the message attributes of options.sqs (an EventBridge dead-letter message)', async () => {
    const { dispatcher, receive, arn } = await setup();
    await dispatcher.deliver(
      arn,
      { id: 'event-1' },
      {
        source: 'rule switchyard/webhooks',
        sqs: {
          messageAttributes: {
            ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' },
            RETRY_ATTEMPTS: { DataType: 'Number', StringValue: '185' },
          },
        },
      },
    );
    const [message] = await receive();
    expect(message?.MessageAttributes).toEqual({
      ERROR_CODE: { DataType: 'String', StringValue: 'SDK_CLIENT_ERROR' },
      RETRY_ATTEMPTS: { DataType: 'Number', StringValue: '185' },
    });
  });

  it("hands the delivery's trace header on as the message's AWSTraceHeader", async () => {
    const { sqs, dispatcher, arn } = await setup();
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    await dispatcher.deliver(arn, 'traced', { traceHeader: trace });
    const { Messages } = await sqs.call<{ Messages?: SqsWireMessage[] }>('ReceiveMessage', {
      QueueUrl: sqs.queueUrl('rule-dlq'),
      MessageSystemAttributeNames: ['All'],
    });
    expect(Messages?.[0]?.Attributes?.AWSTraceHeader).toBe(trace);
  });

  it('fails with QueueDoesNotExist for a queue that is not there', async () => {
    const { dispatcher } = await setup();
    const delivery = dispatcher.deliver('arn:aws:sqs:us-east-1:000000000000:nowhere', 'x');
    await expect(delivery).rejects.toBeInstanceOf(DispatchError);
    await expect(delivery).rejects.toMatchObject({ code: 'QueueDoesNotExist' });
  });
});
