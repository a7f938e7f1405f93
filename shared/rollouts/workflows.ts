/**
 * The rollout and rollback state machines (lib/rollouts.ts) behind the
 * domain's Workflows port: start, describe, answer task tokens. Execution
 * names are deterministic (`<deploymentId>-<attempt>`,
 * `<deploymentId>-rollback-<attempt>`), so the record names its execution
 * before starting it and a start that fails is found by the reconciler.
 */
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import type { TaskTokenRelease } from '../domain/deployments.js';
import type { ExecutionStatus, Workflows } from '../domain/rollout-ports.js';
import { SDK_TIMEOUTS } from '../sdk-timeouts.js';
import { logger, tracer } from '../telemetry.js';

/** The error an approval gate's token is failed with when the deployment is rolled back: the rollout machine stops on it (lib/rollouts.ts). */
export const SUPERSEDED_ERROR = 'Deployment.Superseded';

let client: SFNClient | undefined;
const sfn = () => (client ??= tracer.captureAWSv3Client(new SFNClient({ requestHandler: SDK_TIMEOUTS })));

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** `arn:aws:states:r:a:stateMachine:name` → `arn:aws:states:r:a:execution:name:<execution>`, as Step Functions names executions. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

export class StepFunctionsWorkflows implements Workflows {
  constructor(
    private readonly rolloutMachineArn = requiredEnv('ROLLOUT_STATE_MACHINE_ARN'),
    private readonly rollbackMachineArn = requiredEnv('ROLLBACK_STATE_MACHINE_ARN'),
    private readonly client: () => SFNClient = sfn,
  ) {}

  rolloutExecutionArn(deploymentId: string, attempt: number): string {
    return executionArnOf(this.rolloutMachineArn, `${deploymentId}-${attempt}`);
  }

  rollbackExecutionArn(deploymentId: string, attempt: number): string {
    return executionArnOf(this.rollbackMachineArn, `${deploymentId}-rollback-${attempt}`);
  }

  startRollout(deploymentId: string, attempt: number): Promise<string> {
    return this.start(this.rolloutMachineArn, `${deploymentId}-${attempt}`, deploymentId);
  }

  startRollback(deploymentId: string, attempt: number): Promise<string> {
    return this.start(this.rollbackMachineArn, `${deploymentId}-rollback-${attempt}`, deploymentId);
  }

  /** A token already answered, unknown or timed out is not an error: the gate it belonged to is gone either way. */
  async release(release: TaskTokenRelease, reason: string): Promise<void> {
    try {
      if (release.outcome === 'success') {
        await this.client().send(new SendTaskSuccessCommand({ taskToken: release.token, output: JSON.stringify({ approved: true }) }));
      } else {
        await this.client().send(
          new SendTaskFailureCommand({ taskToken: release.token, error: SUPERSEDED_ERROR, cause: reason.slice(0, 32_000) }),
        );
      }
    } catch (error) {
      if (error instanceof TaskDoesNotExist || error instanceof InvalidToken || error instanceof TaskTimedOut) {
        logger.warn('the approval gate was already answered or gone', { outcome: release.outcome, error: (error as Error).name });
        return;
      }
      throw error;
    }
  }

  async status(executionArn: string): Promise<ExecutionStatus> {
    try {
      const out = await this.client().send(new DescribeExecutionCommand({ executionArn }));
      return (out.status ?? 'RUNNING') as ExecutionStatus;
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return 'MISSING';
      throw error;
    }
  }

  /**
   * StartExecution is idempotent for a running execution of the same name
   * and input; a name already used by a finished one is ExecutionAlreadyExists,
   * which here means someone started it before: its arn is the answer.
   */
  private async start(stateMachineArn: string, name: string, deploymentId: string): Promise<string> {
    try {
      const out = await this.client().send(
        new StartExecutionCommand({
          stateMachineArn,
          name,
          input: JSON.stringify({ deploymentId }),
          // The execution joins the trace of the request or task that started it (DESIGN.md §8).
          ...(process.env._X_AMZN_TRACE_ID ? { traceHeader: process.env._X_AMZN_TRACE_ID } : {}),
        }),
      );
      return out.executionArn ?? executionArnOf(stateMachineArn, name);
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return executionArnOf(stateMachineArn, name);
      throw error;
    }
  }
}
