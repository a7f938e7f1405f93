/**
 * The input of each task of the rollout and rollback state machines
 * (lib/rollouts.ts builds the Parameters; functions/rollout-tasks parses
 * them with this schema): the state's `action` and the deployment it is
 * about. The samples in events/rollout-tasks-*.json are held to it.
 */
import * as z from 'zod';

const id = z.uuid();
const stage = { deploymentId: id, stage: z.number().int().min(0) };
/** A Map's or a task's Catch puts `{Error, Cause}` at `$.error`; `null` when the machine rolls back without an error. */
export const StateErrorSchema = z.object({ Error: z.string(), Cause: z.string().optional() }).nullish();

export const RolloutTaskSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('begin'), deploymentId: id }),
  z.object({ action: z.literal('gate'), ...stage }),
  z.object({ action: z.literal('awaitApproval'), ...stage, taskToken: z.string().min(1) }),
  z.object({ action: z.literal('apply'), ...stage }),
  z.object({ action: z.literal('watch'), ...stage }),
  z.object({ action: z.literal('evaluate'), ...stage }),
  z.object({ action: z.literal('beginRollback'), deploymentId: id, error: StateErrorSchema }),
  z.object({ action: z.literal('restoreEdges'), deploymentId: id }),
  z.object({ action: z.literal('finishRollback'), deploymentId: id }),
  z.object({ action: z.literal('failRollback'), deploymentId: id, error: z.string().optional() }),
]);
export type RolloutTask = z.infer<typeof RolloutTaskSchema>;
export type StateError = z.infer<typeof StateErrorSchema>;
