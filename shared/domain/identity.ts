/** Users, API keys, sessions and the audit trail (seed 004 phases 2–3). */
import type { Role } from '../auth/roles.js';
import type { Page, PageRequest, Revisioned } from './model.js';

export interface User extends Revisioned {
  username: string;
  roles: Role[];
  disabled: boolean;
}

/** The stored form; the hash never leaves the store and auth services. */
export interface UserRecord extends User {
  passwordHash: string;
  /**
   * Bumped when the user is disabled or its password or roles change: refresh
   * families and access tokens carry the generation they were issued under and
   * are refused once it is stale (absent: 0, as before it existed).
   */
  sessionGeneration?: number;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  /** The first characters of the key, so an operator can tell keys apart. */
  prefix: string;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
}

/** A login session: its refresh tokens rotate; reusing an old one revokes the family. */
export interface RefreshFamily {
  familyId: string;
  userId: string;
  currentHash: string;
  /** Epoch seconds; the family (and the DynamoDB item, by TTL) ends then. */
  expiresAt: number;
  revoked: boolean;
  /** The user's `sessionGeneration` at login (absent: 0). */
  generation?: number;
}

export interface AuditRecord {
  id: string;
  at: string;
  actor: { id: string; kind: string; name: string };
  action: string;
  method: string;
  path: string;
  status: number;
  requestId: string;
  sourceIp: string;
  resourceId?: string;
}

export interface AuditQuery extends PageRequest {
  actorId?: string;
  action?: string;
  from?: string;
  to?: string;
}

export interface IdentityStore {
  /** AlreadyExistsError when the username is taken. */
  createUser(user: UserRecord): Promise<void>;
  getUser(id: string): Promise<UserRecord | undefined>;
  getUserByUsername(username: string): Promise<UserRecord | undefined>;
  replaceUser(user: UserRecord, expectedRevision: number): Promise<void>;
  deleteUser(user: UserRecord, expectedRevision: number): Promise<void>;
  listUsers(page: PageRequest): Promise<Page<UserRecord>>;

  createApiKey(key: ApiKey, hash: string): Promise<void>;
  /** The key by the hash of its secret, if it exists and is not revoked. */
  findApiKeyByHash(hash: string): Promise<ApiKey | undefined>;
  getApiKey(id: string): Promise<ApiKey | undefined>;
  revokeApiKey(id: string, at: string): Promise<ApiKey>;
  listApiKeys(page: PageRequest): Promise<Page<ApiKey>>;

  createRefreshFamily(family: RefreshFamily): Promise<void>;
  getRefreshFamily(familyId: string): Promise<RefreshFamily | undefined>;
  /** Swaps the current token hash if it is still `expectedHash` and the family is live; false otherwise. */
  rotateRefresh(familyId: string, expectedHash: string, nextHash: string): Promise<boolean>;
  revokeRefreshFamily(familyId: string): Promise<void>;

  /** Remembers a revoked access token id until it would have expired anyway. */
  revokeAccessToken(jti: string, expiresAt: number): Promise<void>;
  isAccessTokenRevoked(jti: string): Promise<boolean>;

  appendAudit(record: AuditRecord): Promise<void>;
  listAudit(query: AuditQuery): Promise<Page<AuditRecord>>;

  /** Counts one request in a fixed window and returns the count so far (atomic across Lambda instances). */
  countRequest(bucket: string, windowStart: number, windowSeconds: number): Promise<number>;
}
