/**
 * `AWS::SQS::Queue`, created in the local SQS (local/aws/sqs) as
 * CloudFormation would: the template's QueueName or CloudFormation's
 * generated one (`<stack>-<logicalId>`, with `.fifo` for a FIFO queue), and
 * its attributes. `Ref` is the queue URL (on the runtime's endpoint);
 * `Fn::GetAtt` answers Arn, QueueName and QueueUrl.
 *
 * Encryption properties are accepted and ignored (KMS ids are stored, as
 * fauxqs stores them); `AWS::SQS::QueuePolicy` is accepted and not enforced,
 * like IAM. fauxqs keeps nothing on disk: every start creates empty queues.
 */
import { generatedPhysicalName } from '../template/resolver.js';
import type { CfnResource } from '../types.js';
import { resolvedProperties, type ProviderContext, type ResourceProvider } from './provider.js';

export const SQS_QUEUE_TYPE = 'AWS::SQS::Queue';
export const SQS_QUEUE_POLICY_TYPE = 'AWS::SQS::QueuePolicy';

/** SQS's own limit on a queue name. */
const MAX_QUEUE_NAME = 80;

/** Properties that are queue attributes of the same name (numbers and booleans as strings, as SQS keeps them). */
const ATTRIBUTE_PROPERTIES = [
  'VisibilityTimeout',
  'DelaySeconds',
  'MessageRetentionPeriod',
  'MaximumMessageSize',
  'ReceiveMessageWaitTimeSeconds',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
] as const;

/** JSON-valued attributes: CloudFormation takes an object or a JSON string. */
const POLICY_PROPERTIES = ['RedrivePolicy', 'RedriveAllowPolicy'] as const;

export function queueName(logicalId: string, props: Record<string, unknown>, stackName: string): string {
  if (typeof props.QueueName === 'string' && props.QueueName !== '') return props.QueueName;
  const fifo = String(props.FifoQueue) === 'true';
  return fifo
    ? `${generatedPhysicalName(stackName, logicalId, MAX_QUEUE_NAME - '.fifo'.length)}.fifo`
    : generatedPhysicalName(stackName, logicalId, MAX_QUEUE_NAME);
}

export function queueAttributes(props: Record<string, unknown>): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const name of ATTRIBUTE_PROPERTIES) {
    const value = props[name];
    if (value !== undefined && value !== null) attributes[name] = String(value);
  }
  for (const name of POLICY_PROPERTIES) {
    const value = props[name];
    if (value !== undefined && value !== null) attributes[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return attributes;
}

export const sqsQueueProvider: ResourceProvider = {
  types: [SQS_QUEUE_TYPE],
  async create(logicalId: string, resource: CfnResource, context: ProviderContext) {
    const props = resolvedProperties(resource, context);
    const name = queueName(logicalId, props, context.env.stackName);
    const tags = Array.isArray(props.Tags)
      ? Object.fromEntries((props.Tags as Array<{ Key: unknown; Value: unknown }>).map((t) => [String(t.Key), String(t.Value)]))
      : undefined;
    const { sqs } = context.services;
    const { QueueUrl: url } = await sqs.call<{ QueueUrl: string }>('CreateQueue', {
      QueueName: name,
      Attributes: queueAttributes(props),
      ...(tags ? { tags } : {}),
    });
    return { ref: url, attributes: { Arn: sqs.queueArn(name), QueueName: name, QueueUrl: url } };
  },
};

/** Accepted, not enforced (like IAM): every principal may use every local queue. */
export const sqsQueuePolicyProvider: ResourceProvider = {
  types: [SQS_QUEUE_POLICY_TYPE],
  create(logicalId: string, _resource: CfnResource, context: ProviderContext) {
    const id = generatedPhysicalName(context.env.stackName, logicalId);
    return { ref: id, attributes: { Id: id } };
  },
};
