/**
 * The tasks of the `rollout` and `rollback` state machines (lib/rollouts.ts):
 * one function, the state's `action` picks the step of
 * shared/domain/rollout-service.ts. Thin: parse the task input, call the
 * domain, answer what it answers (the state's output).
 *
 * Errors reach the machine by name: Deployment.StateChanged (the record
 * moved: the machine looks again at its gate) is thrown by the domain; a
 * 409 or 422 from a transition means the same here (an operator acted
 * between the read and the write), so it is renamed to it.
 */
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { RuleViolationError, VersionConflictError } from '../../shared/domain/errors.js';
import { StateChangedError } from '../../shared/domain/rollout-service.js';
import { eventFunction } from '../../shared/event-function.js';
import { rolloutService } from '../../shared/rollouts/service.js';
import { RolloutTaskSchema, type RolloutTask, type StateError } from '../../shared/rollouts/task-schema.js';
import { withAudit } from '../../shared/store/audit-scope.js';
import { logger } from '../../shared/telemetry.js';

const describeError = (error: StateError): string | undefined =>
  error ? `${error.Error}${error.Cause ? `: ${error.Cause.slice(0, 500)}` : ''}` : undefined;

async function run(task: RolloutTask): Promise<unknown> {
  const rollouts = rolloutService();
  switch (task.action) {
    case 'begin':
      return rollouts.begin(task.deploymentId);
    case 'gate':
      return rollouts.gate(task);
    case 'awaitApproval':
      await rollouts.awaitApproval(task);
      return { waiting: true };
    case 'apply':
      return rollouts.apply(task);
    case 'watch':
      return rollouts.watch(task);
    case 'evaluate':
      return rollouts.evaluate(task);
    case 'beginRollback': {
      const error = describeError(task.error);
      return rollouts.beginRollback({ deploymentId: task.deploymentId, ...(error ? { error } : {}) });
    }
    case 'restoreEdges':
      return rollouts.restoreEdges(task.deploymentId);
    case 'finishRollback':
      return rollouts.finishRollback(task.deploymentId);
    case 'failRollback':
      return rollouts.failRollback({ deploymentId: task.deploymentId, ...(task.error ? { error: task.error } : {}) });
  }
}

const handle = async (task: RolloutTask, context: { awsRequestId: string; functionName: string }) => {
  logger.appendKeys({ deploymentId: task.deploymentId, action: task.action, ...('stage' in task ? { stage: task.stage } : {}) });
  // The workflow's changes are audited as the rollout's, one audit line per transition.
  const audit = {
    actor: { id: 'system:rollout', kind: 'system', name: 'rollout workflow' },
    action: `rollout.${task.action}`,
    method: 'TASK',
    path: `states/${context.functionName}`,
    requestId: context.awsRequestId,
    sourceIp: '-',
  };
  try {
    const answer = await withAudit(audit, () => run(task));
    logger.info('rollout task', { answer: answer as Record<string, unknown> });
    return answer;
  } catch (error) {
    if (error instanceof VersionConflictError || error instanceof RuleViolationError) {
      logger.info('the deployment moved under the task; the machine looks again', { reason: (error as Error).message });
      throw new StateChangedError((error as Error).message);
    }
    throw error;
  }
};

export const handler = eventFunction(handle).use(parser({ schema: RolloutTaskSchema }));
