import { NotFoundError, RuleViolationError } from './errors.js';
import type { Group, Membership, Page, PageRequest } from './model.js';
import type { Clock, IdGenerator, ReleaseStore } from './ports.js';
import { writableRevision } from './revisions.js';

/** Keeps create-with-members and delete-with-members inside one DynamoDB transaction (100 items). */
export const MAX_INITIAL_MEMBERS = 25;

export interface CreateGroupInput {
  name: string;
  description?: string;
  enabled?: boolean;
  receiverIds?: string[];
}

export interface UpdateGroupInput {
  revision?: number;
  name?: string;
  description?: string;
  enabled?: boolean;
}

export class GroupService {
  constructor(
    private readonly store: ReleaseStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async create(input: CreateGroupInput): Promise<Group> {
    const receiverIds = [...new Set(input.receiverIds ?? [])];
    if (receiverIds.length > MAX_INITIAL_MEMBERS) {
      throw new RuleViolationError(
        `A group can be created with at most ${MAX_INITIAL_MEMBERS} members; add more afterwards`,
        'TOO_MANY_MEMBERS',
      );
    }
    const now = this.clock.now();
    const group: Group = {
      id: this.ids.next(),
      name: input.name,
      description: input.description ?? '',
      enabled: input.enabled ?? true,
      memberCount: receiverIds.length,
      revision: 1,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createGroup(group, receiverIds);
    return group;
  }

  async get(id: string): Promise<Group> {
    const group = await this.store.getGroup(id);
    if (!group) throw new NotFoundError('Group', id);
    return group;
  }

  async update(id: string, input: UpdateGroupInput, ifMatch?: string): Promise<Group> {
    const current = await this.get(id);
    const expected = writableRevision('Group', current, input.revision, ifMatch);
    const { revision: _ignored, ...changes } = input;
    const next: Group = { ...current, ...changes, revision: current.revision + 1, updatedAt: this.clock.now() };
    await this.store.replaceGroup(next, expected);
    return next;
  }

  async delete(id: string, revision: number | undefined, ifMatch?: string): Promise<void> {
    const current = await this.get(id);
    const expected = writableRevision('Group', current, revision, ifMatch);
    await this.store.deleteGroup(id, expected);
  }

  list(page: PageRequest): Promise<Page<Group>> {
    return this.store.listGroups(page);
  }

  /** Idempotent: adding an existing member is not an error. Returns whether it was added. */
  async addMember(groupId: string, receiverId: string): Promise<boolean> {
    return this.store.addMember(groupId, receiverId, this.clock.now());
  }

  async removeMember(groupId: string, receiverId: string): Promise<void> {
    const removed = await this.store.removeMember(groupId, receiverId, this.clock.now());
    if (!removed) throw new NotFoundError('Membership', `${groupId}/${receiverId}`);
  }

  async members(groupId: string, page: PageRequest): Promise<Page<Membership>> {
    await this.get(groupId);
    return this.store.listMembers(groupId, page);
  }
}
