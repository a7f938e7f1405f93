/**
 * Resolves CloudFormation intrinsic functions against the values the
 * resource providers reported, as CloudFormation does during a deployment:
 * `Ref` and `Fn::GetAtt` of a resource are what its provider answered when
 * it was created (a real queue URL, a real stream ARN), never a made-up one.
 *
 * A reference the runtime cannot answer (a resource type it does not run, an
 * attribute its provider does not report) resolves to `undefined` and is
 * reported once as a warning naming the resource; whatever contains it
 * (a `Fn::Join`, a `Fn::Sub`) is `undefined` too, so the consumer skips it
 * rather than running with an invented value.
 */
import type { CfnResource, CfnTemplate } from '../types.js';
import { resourcesOfType } from '../cfn.js';

export interface LocalEnvironment {
  stackName: string;
  region: string;
  accountId: string;
}

/** What a provider reports for a resource it created. */
export interface ResourceValues {
  /** `Ref`. */
  ref: string;
  /** `Fn::GetAtt` values by attribute name. */
  attributes: Record<string, unknown>;
}

/** Thrown when a resource is resolved before a resource it references was created: a dependency-order bug, never a user error. */
export class NotYetCreatedError extends Error {
  override readonly name = 'NotYetCreatedError';
}

/** CloudFormation's physical name when the template gives none: `<stack>-<logicalId>` (without the random suffix, so it is stable). */
export function generatedPhysicalName(stackName: string, logicalId: string, maxLength = 64): string {
  return `${stackName}-${logicalId}`.slice(0, maxLength);
}

export class TemplateResolver {
  private readonly values = new Map<string, ResourceValues>();
  /** Resources no provider runs: their Ref/GetAtt are unknown. */
  private readonly unsupported = new Set<string>();
  private readonly warned = new Set<string>();

  constructor(
    readonly template: CfnTemplate,
    readonly env: LocalEnvironment,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /** Records what the provider of `logicalId` answered. */
  setValues(logicalId: string, values: ResourceValues): void {
    this.values.set(logicalId, values);
  }

  valuesOf(logicalId: string): ResourceValues | undefined {
    return this.values.get(logicalId);
  }

  /** Marks a resource that no provider creates: references to it resolve to `undefined` with a warning. */
  markUnsupported(logicalId: string): void {
    this.unsupported.add(logicalId);
  }

  resourcesOfType(type: string): Array<[string, CfnResource]> {
    return resourcesOfType(this.template, type);
  }

  private warnOnce(message: string): undefined {
    if (!this.warned.has(message)) {
      this.warned.add(message);
      this.warn(message);
    }
    return undefined;
  }

  private resourceValues(logicalId: string): ResourceValues | undefined {
    const values = this.values.get(logicalId);
    if (values) return values;
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new Error(`The template has no resource ${logicalId}`);
    if (this.unsupported.has(logicalId)) {
      return this.warnOnce(`${logicalId} (${resource.Type}) is not run locally: references to it resolve to nothing`);
    }
    throw new NotYetCreatedError(`${logicalId} (${resource.Type}) was referenced before it was created`);
  }

  private ref(name: string): unknown {
    const pseudo = this.pseudo(name);
    if (pseudo !== undefined) return pseudo;
    if (name in this.template.Resources) return this.resourceValues(name)?.ref;
    return this.parameter(name);
  }

  private getAtt(logicalId: string, attribute: string): unknown {
    const values = this.resourceValues(logicalId);
    if (!values) return undefined;
    if (attribute in values.attributes) return values.attributes[attribute];
    const type = this.template.Resources[logicalId]?.Type;
    return this.warnOnce(
      `${logicalId} (${type}): the local runtime does not know its attribute ${attribute}; Fn::GetAtt resolves to nothing`,
    );
  }

  private pseudo(name: string): string | undefined {
    const { region, accountId, stackName } = this.env;
    switch (name) {
      case 'AWS::Region':
        return region;
      case 'AWS::AccountId':
        return accountId;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stackName;
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${region}:${accountId}:stack/${stackName}/local`;
      case 'AWS::NoValue':
        return '';
      default:
        return undefined;
    }
  }

  private parameter(name: string): string {
    const parameter = this.template.Parameters?.[name];
    if (parameter?.Default !== undefined) return String(parameter.Default);
    throw new Error(`Ref to unknown resource or parameter without default: ${name}`);
  }

  /** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split and Fn::Base64 to plain values. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0] as [string, unknown];
      switch (fn) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : splitAttribute(String(arg));
          return this.getAtt(String(id), String(attr));
        }
        case 'Fn::Join': {
          const [separator, parts] = arg as [string, unknown];
          const resolved = this.resolve(parts) as unknown[];
          return resolved.some((p) => p === undefined) ? undefined : resolved.join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [number | string, unknown];
          const resolved = this.resolve(list) as unknown[] | undefined;
          return resolved?.[Number(this.resolve(index))];
        }
        case 'Fn::Split': {
          const [separator, source] = arg as [string, unknown];
          const resolved = this.resolve(source);
          return resolved === undefined ? undefined : String(resolved).split(separator);
        }
        case 'Fn::Base64': {
          const resolved = this.resolve(arg);
          return resolved === undefined ? undefined : Buffer.from(String(resolved)).toString('base64');
        }
        case 'Fn::Sub':
          return this.sub(arg);
        default:
          if (fn.startsWith('Fn::')) throw new Error(`The local runtime does not support ${fn}`);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  private sub(arg: unknown): string | undefined {
    const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
    let missing = false;
    const out = text.replace(/\$\{(!?)([^}]+)\}/g, (whole, literal: string, name: string) => {
      if (literal) return `\${${name}}`; // ${!Literal} stays literal, without the !
      let resolved: unknown;
      if (name in vars) resolved = this.resolve(vars[name]);
      else if (name.includes('.')) {
        const [id, attr] = splitAttribute(name);
        resolved = this.getAtt(id, attr);
      } else resolved = this.ref(name);
      if (resolved === undefined) missing = true;
      return resolved === undefined ? whole : String(resolved);
    });
    return missing ? undefined : out;
  }
}

function splitAttribute(text: string): [string, string] {
  const dot = text.indexOf('.');
  return dot < 0 ? [text, ''] : [text.slice(0, dot), text.slice(dot + 1)];
}
