/**
 * A local AWS Secrets Manager (DESIGN.md §7) behind the local AWS endpoint, so
 * handlers call it with `@aws-sdk/client-secrets-manager` or Powertools
 * `getSecret` unchanged (`AWS_ENDPOINT_URL_SECRETS_MANAGER`). No maintained
 * npm emulator exists (moto and LocalStack are Python / Docker), and the
 * subset the stack needs is small: CreateSecret, GetSecretValue,
 * PutSecretValue with staging labels, DescribeSecret, ListSecrets and
 * GetRandomPassword.
 *
 * Kept in memory, or in `<dataDir>/secretsmanager.json` (atomic writes) so a
 * restart keeps values. Values are stored in clear, as the local runtime's
 * other state is: this is a development store, not a vault.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '../json-file.js';
import { AwsServiceError, type AwsJsonService } from '../endpoint.js';

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const SECRETS_FILE = 'secretsmanager.json';
/** AWS keeps about 100 versions; unlabeled (deprecated) ones beyond that are dropped, oldest first. */
const MAX_VERSIONS = 100;
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

interface StoredVersion {
  secretString?: string;
  /** Base64, as the JSON protocol carries blobs. */
  secretBinary?: string;
  createdDate: number;
  stages: string[];
}

interface StoredSecret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  tags: Array<{ Key: string; Value: string }>;
  createdDate: number;
  lastChangedDate: number;
  /** By VersionId, in creation order. */
  versions: Record<string, StoredVersion>;
}

interface StoreFile {
  formatVersion: 1;
  secrets: StoredSecret[];
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * `arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf`: AWS appends
 * 6 random characters; locally they derive from the name so the ARN is the same
 * on every start, in the template resolution and in the store.
 */
export function secretArn(region: string, accountId: string, name: string): string {
  const digest = createHash('sha256').update(`secretsmanager:${region}:${accountId}:${name}`).digest();
  let suffix = '';
  for (let i = 0; i < 6; i += 1) suffix += BASE62[(digest[i] as number) % 62];
  return `arn:aws:secretsmanager:${region}:${accountId}:secret:${name}-${suffix}`;
}

/** GenerateSecretString / GetRandomPassword options, with CloudFormation's and the API's names. */
export interface PasswordOptions {
  PasswordLength?: number;
  ExcludeCharacters?: string;
  ExcludeNumbers?: boolean;
  ExcludePunctuation?: boolean;
  ExcludeUppercase?: boolean;
  ExcludeLowercase?: boolean;
  IncludeSpace?: boolean;
  RequireEachIncludedType?: boolean;
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
/** The punctuation set of GetRandomPassword. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** A template value may be a boolean or, in handwritten templates, "true"/"false". */
function flag(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string') return value.toLowerCase() === 'true';
  return Boolean(value);
}

/** A random password with GetRandomPassword's semantics, from node:crypto (CSPRNG, unbiased `randomInt`). */
export function generatePassword(options: PasswordOptions = {}): string {
  const length = options.PasswordLength === undefined ? 32 : Number(options.PasswordLength);
  if (!Number.isInteger(length) || length < 1 || length > 4096) {
    throw new AwsServiceError('InvalidParameterException', 'PasswordLength must be between 1 and 4096');
  }
  const excluded = new Set(options.ExcludeCharacters ?? '');
  const keep = (set: string) => [...set].filter((c) => !excluded.has(c)).join('');
  const classes = [
    flag(options.ExcludeLowercase, false) ? '' : keep(LOWER),
    flag(options.ExcludeUppercase, false) ? '' : keep(UPPER),
    flag(options.ExcludeNumbers, false) ? '' : keep(DIGITS),
    flag(options.ExcludePunctuation, false) ? '' : keep(PUNCTUATION),
    flag(options.IncludeSpace, false) ? keep(' ') : '',
  ].filter((set) => set.length > 0);
  const all = classes.join('');
  if (!all) throw new AwsServiceError('InvalidParameterException', 'The password options exclude every character');
  const chars: string[] = [];
  if (flag(options.RequireEachIncludedType, true)) {
    if (length < classes.length) {
      throw new AwsServiceError('InvalidParameterException', `PasswordLength ${length} is too short to include each character type`);
    }
    for (const set of classes) chars.push(set[randomInt(set.length)] as string);
  }
  while (chars.length < length) chars.push(all[randomInt(all.length)] as string);
  // Fisher–Yates, so the required characters are not always first.
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

export interface SecretsManagerServiceOptions {
  region: string;
  accountId: string;
  /** Folder of `secretsmanager.json`; omit to keep secrets in memory (tests). */
  dataDir?: string;
}

export interface CreateSecretInput {
  Name: string;
  Description?: string;
  KmsKeyId?: string;
  SecretString?: string;
  SecretBinary?: string;
  Tags?: Array<{ Key: string; Value: string }>;
  ClientRequestToken?: string;
}

type Input = Record<string, unknown>;

function str(input: Input, key: string, required: true): string;
function str(input: Input, key: string, required?: false): string | undefined;
function str(input: Input, key: string, required = false): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) {
    if (required) throw new AwsServiceError('InvalidParameterException', `${key} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new AwsServiceError('InvalidParameterException', `${key} must be a string`);
  return value;
}

const seconds = (ms: number) => ms / 1000;

export class SecretsManagerService implements AwsJsonService {
  readonly targetPrefix = 'secretsmanager';
  readonly jsonVersion = '1.1' as const;
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly file?: string;
  private loadedMtimeMs = 0;

  constructor(private readonly options: SecretsManagerServiceOptions) {
    if (options.dataDir) {
      this.file = path.join(path.resolve(options.dataDir), SECRETS_FILE);
      this.reloadIfChanged();
    }
  }

  /**
   * Picks up writes by another process on the same data folder (`npm run invoke`
   * rotating the signing key while `npm start` runs). Last writer wins: the two
   * processes are not expected to write the same secret at once.
   */
  private reloadIfChanged(): void {
    if (!this.file || !existsSync(this.file)) return;
    const mtimeMs = statSync(this.file).mtimeMs;
    if (mtimeMs === this.loadedMtimeMs) return;
    const stored = readJsonFile<StoreFile>(this.file);
    this.secrets.clear();
    for (const secret of stored?.secrets ?? []) this.secrets.set(secret.name, secret);
    this.loadedMtimeMs = mtimeMs;
  }

  /** `AwsJsonService`: one X-Amz-Target operation. */
  handle(operation: string, input: Input): unknown {
    this.reloadIfChanged();
    switch (operation) {
      case 'GetSecretValue':
        return this.getSecretValue(input);
      case 'PutSecretValue':
        return this.putSecretValue(input);
      case 'DescribeSecret':
        return this.describeSecret(input);
      case 'CreateSecret':
        return this.createSecret(input as unknown as CreateSecretInput);
      case 'ListSecrets':
        return this.listSecrets(input);
      case 'GetRandomPassword':
        return { RandomPassword: generatePassword(input as PasswordOptions) };
      default:
        throw new AwsServiceError('UnknownOperationException', `The local Secrets Manager does not support ${operation}`);
    }
  }

  /** Is there a secret with this name or ARN? */
  has(secretId: string): boolean {
    return this.find(secretId) !== undefined;
  }

  /** Names of all secrets. */
  names(): string[] {
    return [...this.secrets.keys()];
  }

  /** By name, full ARN, or ARN without the 6-character suffix (AWS accepts all three). */
  private find(secretId: string): StoredSecret | undefined {
    const byName = this.secrets.get(secretId);
    if (byName) return byName;
    if (!secretId.startsWith('arn:')) return undefined;
    for (const secret of this.secrets.values()) {
      if (secret.arn === secretId || secret.arn.slice(0, -7) === secretId) return secret;
    }
    return undefined;
  }

  private get(input: Input): StoredSecret {
    const secretId = str(input, 'SecretId', true);
    const secret = this.find(secretId);
    if (!secret) throw new AwsServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return secret;
  }

  private persist(): void {
    if (!this.file) return;
    const file: StoreFile = { formatVersion: 1, secrets: [...this.secrets.values()] };
    writeJsonFileAtomic(this.file, file);
    this.loadedMtimeMs = statSync(this.file).mtimeMs;
  }

  getSecretValue(input: Input) {
    const secret = this.get(input);
    const versionId = str(input, 'VersionId');
    const stage = str(input, 'VersionStage') ?? (versionId ? undefined : AWSCURRENT);
    let found: [string, StoredVersion] | undefined;
    if (versionId) {
      const version = secret.versions[versionId];
      if (version && (!stage || version.stages.includes(stage))) found = [versionId, version];
    } else {
      found = Object.entries(secret.versions).find(([, v]) => v.stages.includes(stage as string));
    }
    if (!found) {
      throw new AwsServiceError(
        'ResourceNotFoundException',
        versionId
          ? `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`
          : `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
      );
    }
    const [id, version] = found;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: id,
      ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
      ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
      VersionStages: [...version.stages],
      CreatedDate: seconds(version.createdDate),
    };
  }

  private value(input: Input): { secretString?: string; secretBinary?: string } | undefined {
    const secretString = str(input, 'SecretString');
    const secretBinary = str(input, 'SecretBinary');
    if (secretString !== undefined && secretBinary !== undefined) {
      throw new AwsServiceError(
        'InvalidParameterException',
        "You can't specify both a binary secret value and a string secret value in the same secret.",
      );
    }
    if (secretString !== undefined) return { secretString };
    if (secretBinary !== undefined) return { secretBinary };
    return undefined;
  }

  /** Adds a version and moves its staging labels to it (AWSCURRENT's previous holder becomes AWSPREVIOUS). */
  private addVersion(
    secret: StoredSecret,
    versionId: string,
    value: { secretString?: string; secretBinary?: string },
    stages: string[],
  ): void {
    const now = Date.now();
    for (const stage of stages) {
      for (const [id, version] of Object.entries(secret.versions)) {
        if (!version.stages.includes(stage)) continue;
        version.stages = version.stages.filter((s) => s !== stage);
        if (stage === AWSCURRENT) {
          for (const other of Object.values(secret.versions)) other.stages = other.stages.filter((s) => s !== AWSPREVIOUS);
          secret.versions[id]?.stages.push(AWSPREVIOUS);
        }
      }
    }
    secret.versions[versionId] = { ...value, createdDate: now, stages: [...stages] };
    const ids = Object.keys(secret.versions);
    for (const id of ids) {
      if (Object.keys(secret.versions).length <= MAX_VERSIONS) break;
      if (secret.versions[id]?.stages.length === 0) delete secret.versions[id];
    }
    secret.lastChangedDate = now;
  }

  putSecretValue(input: Input) {
    const secret = this.get(input);
    const value = this.value(input);
    if (!value) throw new AwsServiceError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    const versionId = str(input, 'ClientRequestToken') ?? randomUUID();
    const stagesInput = input.VersionStages;
    const stages = Array.isArray(stagesInput) && stagesInput.length > 0 ? stagesInput.map(String) : [AWSCURRENT];
    const existing = secret.versions[versionId];
    if (existing) {
      // Idempotent retry with the same token; a different value under the same token is a conflict.
      if (existing.secretString !== value.secretString || existing.secretBinary !== value.secretBinary) {
        throw new AwsServiceError(
          'ResourceExistsException',
          `A version with ClientRequestToken ${versionId} already exists with a different value.`,
        );
      }
    } else {
      this.addVersion(secret, versionId, value, stages);
      this.persist();
    }
    return { ARN: secret.arn, Name: secret.name, VersionId: versionId, VersionStages: [...(secret.versions[versionId]?.stages ?? [])] };
  }

  describeSecret(input: Input) {
    const secret = this.get(input);
    return {
      ...this.summary(secret),
      VersionIdsToStages: Object.fromEntries(Object.entries(secret.versions).map(([id, v]) => [id, [...v.stages]])),
    };
  }

  private summary(secret: StoredSecret) {
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      RotationEnabled: false,
      CreatedDate: seconds(secret.createdDate),
      LastChangedDate: seconds(secret.lastChangedDate),
      Tags: secret.tags.map((t) => ({ ...t })),
    };
  }

  /**
   * CreateSecret. `arn` is for seeding from the template, where the ARN must be
   * the one the template resolution hands out; the API always derives it.
   */
  createSecret(input: CreateSecretInput, arn?: string) {
    const name = str(input as unknown as Input, 'Name', true);
    if (!NAME_PATTERN.test(name)) {
      throw new AwsServiceError(
        'InvalidParameterException',
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    if (this.secrets.has(name)) {
      throw new AwsServiceError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }
    const value = this.value(input as unknown as Input);
    const now = Date.now();
    const secret: StoredSecret = {
      arn: arn ?? secretArn(this.options.region, this.options.accountId, name),
      name,
      ...(input.Description !== undefined ? { description: String(input.Description) } : {}),
      ...(input.KmsKeyId !== undefined ? { kmsKeyId: String(input.KmsKeyId) } : {}),
      tags: Array.isArray(input.Tags) ? input.Tags.map((t) => ({ Key: String(t.Key), Value: String(t.Value) })) : [],
      createdDate: now,
      lastChangedDate: now,
      versions: {},
    };
    const versionId = value ? (input.ClientRequestToken ?? randomUUID()) : undefined;
    if (value && versionId) this.addVersion(secret, versionId, value, [AWSCURRENT]);
    this.secrets.set(name, secret);
    this.persist();
    return { ARN: secret.arn, Name: name, ...(versionId ? { VersionId: versionId } : {}) };
  }

  /** ListSecrets with the `name`, `description`, `tag-key`, `tag-value` and `all` filters (prefix match, `!` negates). */
  listSecrets(input: Input) {
    const filters = Array.isArray(input.Filters) ? (input.Filters as Array<{ Key?: string; Values?: string[] }>) : [];
    const matches = (secret: StoredSecret) =>
      filters.every(({ Key, Values }) => {
        const fields: Record<string, string[]> = {
          name: [secret.name],
          description: [secret.description ?? ''],
          'tag-key': secret.tags.map((t) => t.Key),
          'tag-value': secret.tags.map((t) => t.Value),
        };
        const candidates = Key === 'all' ? Object.values(fields).flat() : (fields[Key ?? ''] ?? []);
        return (Values ?? []).some((raw) => {
          const negate = raw.startsWith('!');
          const prefix = negate ? raw.slice(1) : raw;
          const hit = candidates.some((c) => c.startsWith(prefix));
          return negate ? !hit : hit;
        });
      });
    const all = [...this.secrets.values()].filter(matches).sort((a, b) => a.createdDate - b.createdDate);
    if (input.SortOrder === 'desc') all.reverse();
    const max = Math.min(Math.max(Number(input.MaxResults ?? 100) || 100, 1), 100);
    const start = typeof input.NextToken === 'string' ? Number(Buffer.from(input.NextToken, 'base64').toString('utf8')) || 0 : 0;
    const page = all.slice(start, start + max);
    return {
      SecretList: page.map((secret) => ({
        ...this.summary(secret),
        SecretVersionsToStages: Object.fromEntries(Object.entries(secret.versions).map(([id, v]) => [id, [...v.stages]])),
      })),
      ...(start + max < all.length ? { NextToken: Buffer.from(String(start + max)).toString('base64') } : {}),
    };
  }
}
