import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * An alarm as soon as a dead-letter queue holds a message: something failed
 * past its retries (runbook: Webhooks, dead-letter queues). No action is
 * attached; wire an SNS topic to it where the stack is deployed.
 */
export function deadLetterAlarm(scope: Construct, id: string, queue: Queue, what: string): Alarm {
  return new Alarm(scope, id, {
    alarmDescription: `${what} (docs/runbook.md)`,
    metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
