/**
 * The deployment reconciler (DESIGN.md §6), every minute by an EventBridge
 * schedule: the deployment record is the source of truth, so any active
 * deployment whose execution is gone (a lost local runtime, a failed or
 * aborted execution) gets a new one that resumes from its recorded stage.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { eventFunction } from '../../shared/event-function.js';
import { rolloutService } from '../../shared/rollouts/service.js';
import { withAudit } from '../../shared/store/audit-scope.js';
import { logger, metrics } from '../../shared/telemetry.js';

const reconcile = async (_event: unknown, context: { awsRequestId: string; functionName: string }) => {
  const audit = {
    actor: { id: 'system:reconciler', kind: 'system', name: 'deployment reconciler' },
    action: 'reconcileDeployments',
    method: 'SCHEDULE',
    path: `events/${context.functionName}`,
    requestId: context.awsRequestId,
    sourceIp: '-',
  };
  const report = await withAudit(audit, () => rolloutService().reconcile());
  const restarted = report.filter((r) => r.action === 'restarted');
  metrics.addMetric('DeploymentExecutionsRestarted', MetricUnit.Count, restarted.length);
  if (restarted.length > 0) logger.warn('restarted the executions of deployments whose execution was gone', { restarted });
  return { active: report.length, restarted: restarted.length, report };
};

export const handler = eventFunction(reconcile).use(parser({ schema: EventBridgeSchema }));
