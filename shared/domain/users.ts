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

/** What leaves the service: never the password hash. */
export function publicUser(record: UserRecord): User {
  const { passwordHash: _hash, ...user } = record;
  return user;
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
