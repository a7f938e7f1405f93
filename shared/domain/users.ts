import type { Role } from '../auth/roles.js';
import { hashPassword } from '../auth/secrets.js';
import { NotFoundError } from './errors.js';
import type { IdentityStore, User, UserRecord } from './identity.js';
import type { Page, PageRequest } from './model.js';
import type { Clock, IdGenerator } from './ports.js';
import { writableRevision } from './revisions.js';

export interface CreateUserInput {
  username: string;
  password: string;
  roles: Role[];
}

export interface UpdateUserInput {
  revision?: number;
  roles?: Role[];
  password?: string;
  disabled?: boolean;
}

/** What leaves the service: never the password hash (nor the session generation, an internal counter). */
export function publicUser(record: UserRecord): User {
  const { passwordHash: _hash, sessionGeneration: _generation, ...user } = record;
  return user;
}

const sameRoles = (a: readonly Role[], b: readonly Role[]) => new Set(a).size === new Set(b).size && a.every((r) => b.includes(r));

/**
 * Whether an update takes rights away from the user's existing sessions:
 * disabling it, a new password (the old one may have leaked) or other roles
 * (tokens carry roles). Enabling it again, or a PATCH repeating the current
 * values, ends nothing.
 */
export function endsSessions(current: UserRecord, input: UpdateUserInput): boolean {
  return (
    (input.disabled === true && !current.disabled) ||
    Boolean(input.password) ||
    (input.roles !== undefined && !sameRoles(input.roles, current.roles))
  );
}

export class UserService {
  constructor(
    private readonly store: IdentityStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async create(input: CreateUserInput): Promise<User> {
    const now = this.clock.now();
    const record: UserRecord = {
      id: this.ids.next(),
      username: input.username,
      roles: [...new Set(input.roles)],
      disabled: false,
      passwordHash: await hashPassword(input.password),
      revision: 1,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createUser(record);
    return publicUser(record);
  }

  private async record(id: string): Promise<UserRecord> {
    const record = await this.store.getUser(id);
    if (!record) throw new NotFoundError('User', id);
    return record;
  }

  async get(id: string): Promise<User> {
    return publicUser(await this.record(id));
  }

  async update(id: string, input: UpdateUserInput, ifMatch?: string): Promise<User> {
    const current = await this.record(id);
    const expected = writableRevision('User', current, input.revision, ifMatch);
    const next: UserRecord = {
      ...current,
      ...(input.roles ? { roles: [...new Set(input.roles)] } : {}),
      ...(input.disabled !== undefined ? { disabled: input.disabled } : {}),
      ...(input.password ? { passwordHash: await hashPassword(input.password) } : {}),
      // Written with the change itself (one item, one conditional write), so no session outlives it by a race.
      ...(endsSessions(current, input) ? { sessionGeneration: (current.sessionGeneration ?? 0) + 1 } : {}),
      revision: current.revision + 1,
      updatedAt: this.clock.now(),
    };
    await this.store.replaceUser(next, expected);
    return publicUser(next);
  }

  async delete(id: string, revision: number | undefined, ifMatch?: string): Promise<void> {
    const current = await this.record(id);
    await this.store.deleteUser(current, writableRevision('User', current, revision, ifMatch));
  }

  async list(page: PageRequest): Promise<Page<User>> {
    const result = await this.store.listUsers(page);
    return { ...result, items: result.items.map(publicUser) };
  }
}
