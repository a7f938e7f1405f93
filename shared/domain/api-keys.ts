import type { Role } from '../auth/roles.js';
import { generateApiKey, hashApiKey } from '../auth/secrets.js';
import { NotFoundError } from './errors.js';
import type { ApiKey, IdentityStore } from './identity.js';
import type { Page, PageRequest } from './model.js';
import type { Clock, IdGenerator } from './ports.js';

export class ApiKeyService {
  constructor(
    private readonly store: IdentityStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  /** Returns the key's secret once; only its hash is stored. `secret` lets the bootstrap fix a known value. */
  async create(input: { name: string; role: Role }, createdBy: string, secret = generateApiKey()): Promise<ApiKey & { key: string }> {
    const apiKey: ApiKey = {
      id: this.ids.next(),
      name: input.name,
      role: input.role,
      prefix: secret.slice(0, 10),
      createdAt: this.clock.now(),
      createdBy,
    };
    await this.store.createApiKey(apiKey, hashApiKey(secret));
    return { ...apiKey, key: secret };
  }

  async get(id: string): Promise<ApiKey> {
    const key = await this.store.getApiKey(id);
    if (!key) throw new NotFoundError('ApiKey', id);
    return key;
  }

  revoke(id: string): Promise<ApiKey> {
    return this.store.revokeApiKey(id, this.clock.now());
  }

  list(page: PageRequest): Promise<Page<ApiKey>> {
    return this.store.listApiKeys(page);
  }
}
