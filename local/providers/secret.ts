/**
 * `AWS::SecretsManager::Secret`, created in the local Secrets Manager as
 * CloudFormation would: physical name, ARN, and the initial
 * value from `SecretString` or `GenerateSecretString`.
 *
 * Local override: resource Metadata `"switchyard:local:valueFromEnv": "VAR"`
 * — when VAR is set (non-empty) in the runtime's environment its value is used
 * instead of a generated one (under `GenerateStringKey` when there is one), so
 * a developer can fix e.g. the admin password. Only secrets not yet in the
 * store are created: a restart keeps values (and ignores a changed template
 * value or override, as CloudFormation keeps a generated value on update).
 */
import { generatePassword, secretArn, type PasswordOptions, type SecretsManagerService } from '../aws/secrets-manager/service.js';
import { generatedPhysicalName, type TemplateResolver } from '../template/resolver.js';
import type { CfnResource } from '../types.js';
import type { ProviderContext, ResourceProvider } from './provider.js';

export const SECRET_TYPE = 'AWS::SecretsManager::Secret';
export const VALUE_FROM_ENV_METADATA = 'switchyard:local:valueFromEnv';

type SecretProperties = {
  Name?: unknown;
  Description?: unknown;
  KmsKeyId?: unknown;
  SecretString?: unknown;
  GenerateSecretString?: PasswordOptions & { SecretStringTemplate?: unknown; GenerateStringKey?: unknown };
  Tags?: Array<{ Key: unknown; Value: unknown }>;
};

/** The initial value CloudFormation would store: SecretString, else GenerateSecretString (with the local env override). */
export function initialSecretValue(
  logicalId: string,
  resource: CfnResource,
  resolver: TemplateResolver,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  const props = (resource.Properties ?? {}) as SecretProperties;
  const envVar = resource.Metadata?.[VALUE_FROM_ENV_METADATA];
  const override = typeof envVar === 'string' && env[envVar] ? env[envVar] : undefined;
  if (props.SecretString !== undefined) {
    if (override !== undefined) return override;
    return String(resolver.resolve(props.SecretString));
  }
  const generate = props.GenerateSecretString;
  if (!generate) return undefined;
  const options = resolver.resolve(generate) as NonNullable<SecretProperties['GenerateSecretString']>;
  const { SecretStringTemplate: template, GenerateStringKey: key } = options;
  if ((template === undefined) !== (key === undefined)) {
    throw new Error(`Secret ${logicalId}: GenerateSecretString needs both SecretStringTemplate and GenerateStringKey, or neither`);
  }
  const value = override ?? generatePassword(options);
  if (template === undefined) return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(template));
  } catch {
    throw new Error(`Secret ${logicalId}: SecretStringTemplate is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`Secret ${logicalId}: SecretStringTemplate must be a JSON object`);
  }
  return JSON.stringify({ ...(parsed as Record<string, unknown>), [String(key)]: value });
}

export interface TemplateSecret {
  logicalId: string;
  name: string;
  /** What `Ref` (and `Fn::GetAtt [Secret, Id]`) of the resource is in CloudFormation. */
  arn: string;
  /** Created now (false: the store already had it, e.g. from an earlier start on the same data folder). */
  created: boolean;
}

/** Creates one template secret in the local store unless it is there already. */
export function createTemplateSecret(
  logicalId: string,
  resource: CfnResource,
  resolver: TemplateResolver,
  secrets: SecretsManagerService,
  env: Record<string, string | undefined>,
): TemplateSecret {
  const props = (resource.Properties ?? {}) as SecretProperties;
  const name =
    props.Name === undefined ? generatedPhysicalName(resolver.env.stackName, logicalId, 512) : String(resolver.resolve(props.Name));
  const arn = secretArn(resolver.env.region, resolver.env.accountId, name);
  // A data folder keeps the value across restarts, as CloudFormation keeps a generated value on update.
  if (secrets.has(name)) return { logicalId, name, arn, created: false };
  const value = initialSecretValue(logicalId, resource, resolver, env);
  const description = props.Description === undefined ? undefined : String(resolver.resolve(props.Description));
  const kmsKeyId = props.KmsKeyId === undefined ? undefined : String(resolver.resolve(props.KmsKeyId));
  const tags = Array.isArray(props.Tags)
    ? props.Tags.map((t) => ({ Key: String(resolver.resolve(t.Key)), Value: String(resolver.resolve(t.Value)) }))
    : undefined;
  secrets.createSecret(
    {
      Name: name,
      ...(description !== undefined ? { Description: description } : {}),
      ...(kmsKeyId !== undefined ? { KmsKeyId: kmsKeyId } : {}),
      ...(tags ? { Tags: tags } : {}),
      ...(value !== undefined ? { SecretString: value } : {}),
    },
    arn,
  );
  return { logicalId, name, arn, created: true };
}

/** Creates every secret of a template (its properties must not reference other resources). */
export function seedSecretsFromTemplate(
  secrets: SecretsManagerService,
  resolver: TemplateResolver,
  options: { env?: Record<string, string | undefined> } = {},
): TemplateSecret[] {
  return resolver
    .resourcesOfType(SECRET_TYPE)
    .map(([logicalId, resource]) => createTemplateSecret(logicalId, resource, resolver, secrets, options.env ?? process.env));
}

/** `env`: where `switchyard:local:valueFromEnv` variables are read (the runtime's own environment). */
export function secretProvider(env: Record<string, string | undefined> = process.env): ResourceProvider {
  return {
    types: [SECRET_TYPE],
    create(logicalId: string, resource: CfnResource, context: ProviderContext) {
      const { arn } = createTemplateSecret(logicalId, resource, context.resolver, context.services.secrets, env);
      // Ref of a secret is its ARN; GetAtt Id is the ARN too.
      return { ref: arn, attributes: { Id: arn } };
    },
  };
}
