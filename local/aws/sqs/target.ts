/**
 * SQS as a dispatcher target (local/dispatch.ts): EventBridge rules, Lambda
 * destinations and dead-letter queues deliver to a queue ARN by SendMessage.
 * The payload is the body (a string as is, anything else as JSON);
 * `options.sqs` carries message attributes, MessageGroupId,
 * MessageDeduplicationId and DelaySeconds; `options.traceHeader` becomes the
 * message's AWSTraceHeader, so the consumer's trace continues the sender's.
 */
import { DispatchError, type Dispatcher } from '../../dispatch.js';
import { AwsServiceError } from '../endpoint.js';
import type { SqsService } from './service.js';

export function registerSqsTarget(dispatcher: Dispatcher, sqs: SqsService): void {
  dispatcher.register('sqs', async (arn, payload, options) => {
    const queue = await sqs.queueByArn(arn);
    if (!queue) throw new DispatchError(arn, `The queue ${arn} does not exist`, 'QueueDoesNotExist');
    const extra = options.sqs ?? {};
    try {
      const sent = await sqs.call('SendMessage', {
        QueueUrl: queue.url,
        MessageBody: typeof payload === 'string' ? payload : JSON.stringify(payload ?? null),
        ...(extra.messageAttributes ? { MessageAttributes: extra.messageAttributes } : {}),
        ...(extra.messageGroupId !== undefined ? { MessageGroupId: extra.messageGroupId } : {}),
        ...(extra.messageDeduplicationId !== undefined ? { MessageDeduplicationId: extra.messageDeduplicationId } : {}),
        ...(extra.delaySeconds !== undefined ? { DelaySeconds: extra.delaySeconds } : {}),
        ...(options.traceHeader
          ? { MessageSystemAttributes: { AWSTraceHeader: { DataType: 'String', StringValue: options.traceHeader } } }
          : {}),
      });
      return { payload: sent };
    } catch (error) {
      if (error instanceof AwsServiceError) throw new DispatchError(arn, `SendMessage to ${arn} failed: ${error.message}`, error.type);
      throw error;
    }
  });
}
