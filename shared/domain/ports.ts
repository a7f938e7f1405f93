/**
 * What the domain needs from persistence. shared/store implements it on
 * DynamoDB; the domain never sees the AWS SDK.
 */
import type { Group, Membership, Page, PageRequest, Receiver, ReleaseEvent } from './model.js';

export interface ReceiverQuery extends PageRequest {
  name?: string;
  type?: string;
}

export interface EventQuery extends PageRequest {
  receiverId?: string;
  name?: string;
  success?: boolean;
  platformId?: string;
  package?: string;
  /** Inclusive bounds on eventStart (ISO 8601). */
  from?: string;
  to?: string;
}

/**
 * Who is changing what. Every write of a store commits its audit record in
 * the same DynamoDB transaction as the change (DESIGN.md §5), built from the
 * AuditContext of the request it serves (shared/store/audit-scope.ts): a
 * change cannot be written without one, and a change that does not commit
 * leaves no audit line.
 */
export interface AuditContext {
  actor: { id: string; kind: string; name: string };
  /** The operation, e.g. `createReceiver`. */
  action: string;
  method: string;
  path: string;
  requestId: string;
  sourceIp: string;
}

/** Every method that changes state below writes its audit record atomically with the change (see AuditContext). */
export interface ReleaseStore {
  /** Fails with AlreadyExistsError if the id is taken. */
  createReceiver(receiver: Receiver): Promise<void>;
  getReceiver(id: string): Promise<Receiver | undefined>;
  /** Writes `receiver` if the stored revision is still `expectedRevision` (else VersionConflictError). */
  replaceReceiver(receiver: Receiver, expectedRevision: number): Promise<void>;
  /** Deletes if at `expectedRevision` and in no group (RuleViolationError RECEIVER_IN_USE). */
  deleteReceiver(id: string, expectedRevision: number): Promise<void>;
  listReceivers(query: ReceiverQuery): Promise<Page<Receiver>>;

  /** Creates the group and its initial memberships in one transaction. */
  createGroup(group: Group, receiverIds: string[]): Promise<void>;
  getGroup(id: string): Promise<Group | undefined>;
  replaceGroup(group: Group, expectedRevision: number): Promise<void>;
  /** Deletes if at `expectedRevision` and empty (RuleViolationError GROUP_NOT_EMPTY). */
  deleteGroup(id: string, expectedRevision: number): Promise<void>;
  listGroups(query: PageRequest): Promise<Page<Group>>;
  /** Adds a member; returns false if it was already one. NotFoundError if group or receiver is gone. */
  addMember(groupId: string, receiverId: string, addedAt: string): Promise<boolean>;
  /** Removes a member; returns false if it was not one. */
  removeMember(groupId: string, receiverId: string, at: string): Promise<boolean>;
  listMembers(groupId: string, page: PageRequest): Promise<Page<Membership>>;
  listGroupsOfReceiver(receiverId: string, page: PageRequest): Promise<Page<Membership>>;

  /** Stores an event, on condition that its receiver is still at `receiverRevision` (the schema it was validated against). */
  createEvent(event: ReleaseEvent, receiverRevision: number): Promise<void>;
  getEvent(id: string): Promise<ReleaseEvent | undefined>;
  listEvents(query: EventQuery): Promise<Page<ReleaseEvent>>;
}

/** Time and identity come from outside so domain tests are deterministic. */
export interface Clock {
  now(): string;
}
export interface IdGenerator {
  next(): string;
}
