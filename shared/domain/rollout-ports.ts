/**
 * What the rollouts feature (DESIGN.md §6) needs from outside the domain:
 * the deployment record and the edges' assignments (DynamoDB,
 * shared/store/deployment-store.ts), heartbeats for evaluation, and the
 * Step Functions executions that drive a deployment
 * (shared/rollouts/workflows.ts). The domain never sees the AWS SDK.
 */
import type { Deployment, DeploymentStatus, EdgePriorState, TaskTokenRelease, Transition } from './deployments.js';
import type { EdgeAssignment, HeartbeatRecord } from './edges.js';
import type { Page, PageRequest } from './model.js';

export interface DeploymentQuery extends PageRequest {
  status?: DeploymentStatus;
  configurationId?: string;
}

/**
 * The deployment record, the source of truth of a rollout. Every write is a
 * Transition (./deployments.ts) made on the revision read; one with an
 * `event` commits with its audit record and its `deployment.*` CloudEvent
 * (the event's data is the deployment summary plus the transition's
 * decision), one without (bake over → EVALUATING, an insufficient-data
 * re-bake) is a plain guarded update.
 */
export interface DeploymentStore {
  /**
   * Stores a new deployment (PENDING, revision 1, event `deployment.created`)
   * unless one of its edges is held by an active deployment: then nothing is
   * written and it throws ConflictError (409, code `EDGE_IN_DEPLOYMENT`,
   * naming the deployment and the edges). Atomic against every other create,
   * so two overlapping creates racing never both succeed.
   */
  createDeployment(transition: Transition): Promise<void>;
  /** Consistent read. */
  getDeployment(id: string): Promise<Deployment | undefined>;
  /**
   * Writes `transition.deployment` if the stored revision is still
   * `transition.deployment.revision - 1` (else VersionConflictError; NotFoundError
   * when gone). A transition into a final status (SUCCEEDED, ROLLED_BACK,
   * FAILED) releases the deployment's edges in the same write.
   */
  saveTransition(transition: Transition): Promise<void>;
  /** Newest first; filters by status and configuration. */
  listDeployments(query: DeploymentQuery): Promise<Page<Deployment>>;
  /** Every deployment in an active status (deployments.ts ACTIVE_STATUSES), read consistently. */
  activeDeployments(): Promise<Deployment[]>;
}

/** The `ASSIGNMENT` item of each edge: what its desired-config answers. */
export interface AssignmentStore {
  /** The current assignments of these edges; an edge with none is absent from the map. */
  assignments(edgeIds: readonly string[]): Promise<Map<string, EdgeAssignment>>;
  /** Sets these assignments (a stage applied; idempotent: applying the same stage again writes the same items). */
  assign(assignments: readonly EdgeAssignment[]): Promise<void>;
  /**
   * `deploymentId`'s rollback: each edge back to its prior state (no prior
   * configuration: the assignment is removed). An edge whose assignment
   * was since set by another deployment is left alone and answered in
   * `skipped`; restoring twice is harmless.
   */
  restore(
    deploymentId: string,
    targets: ReadonlyArray<{ edgeId: string } & EdgePriorState>,
    now: string,
  ): Promise<{ restored: string[]; skipped: string[] }>;
}

/** Heartbeats for a stage's evaluation. */
export interface HeartbeatReader {
  /** Every heartbeat of these edges received in [from, to] (ISO 8601), any order. */
  heartbeatsOf(edgeIds: readonly string[], from: string, to: string): Promise<HeartbeatRecord[]>;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE' | 'MISSING';

/** The two state machines (`rollout`, `rollback`) as the domain drives them. */
export interface Workflows {
  /** The arn the rollout execution of this attempt has (or will have): names are deterministic, `<deploymentId>-<attempt>`. */
  rolloutExecutionArn(deploymentId: string, attempt: number): string;
  /** Starts that execution (input `{deploymentId}`); starting it again while it runs is not an error (StartExecution is idempotent on AWS). */
  startRollout(deploymentId: string, attempt: number): Promise<string>;
  /** Likewise for the rollback execution, `<deploymentId>-rollback-<attempt>`. */
  rollbackExecutionArn(deploymentId: string, attempt: number): string;
  /** Starts it (input `{deploymentId}`; idempotent likewise); answers its arn. */
  startRollback(deploymentId: string, attempt: number): Promise<string>;
  /** Answers a waiting task token (SendTaskSuccess / SendTaskFailure). A token already answered or timed out is not an error. */
  release(release: TaskTokenRelease, reason: string): Promise<void>;
  /** An execution's status; MISSING when the service has no such execution (a lost local runtime). */
  status(executionArn: string): Promise<ExecutionStatus>;
}
