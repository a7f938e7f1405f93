/**
 * The edge-health job (DESIGN.md §6), every minute by an EventBridge schedule
 * (lib/jobs.ts): an edge whose heartbeats stopped for three intervals gets
 * `edge.unhealthy`, an unhealthy edge that reports again `edge.healthy`. The
 * rules are shared/domain/edge-health.ts's; the interval comes from the same
 * environment as the edges API's computed health, so the two agree.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import type { Context } from 'aws-lambda';
import { healthConfigFrom, runEdgeHealth, type EdgeHealthRun } from '../../shared/domain/edge-health.js';
import { dynamoDocumentClient, tableNameFromEnv } from '../../shared/store/client.js';
import { DynamoEdgeStore } from '../../shared/store/edge-store.js';
import { eventFunction } from '../../shared/event-function.js';
import { logger, metrics } from '../../shared/telemetry.js';

const run = async (event: { id: string; resources: string[] }, context: Context): Promise<EdgeHealthRun> => {
  // The job's changes are audited as the job's own: no request, no caller.
  const store = new DynamoEdgeStore(dynamoDocumentClient(), tableNameFromEnv(), {
    audit: {
      actor: { id: 'edge-health', kind: 'system', name: 'edge-health' },
      action: 'recordEdgeHealth',
      method: 'SCHEDULE',
      path: event.resources[0] ?? 'edge-health',
      requestId: context.awsRequestId,
      sourceIp: 'edge-health',
    },
  });
  const result = await runEdgeHealth(store, new Date().toISOString(), healthConfigFrom(process.env));
  metrics.addMetric('EdgesUnhealthy', MetricUnit.Count, result.unhealthy);
  metrics.addMetric('EdgeHealthTransitions', MetricUnit.Count, result.events['edge.healthy'] + result.events['edge.unhealthy']);
  if (result.recorded > 0 || result.skipped > 0) logger.info('edge health recorded', { ...result, scheduledEvent: event.id });
  return result;
};

export const handler = eventFunction(run).use(parser({ schema: EventBridgeSchema }));
