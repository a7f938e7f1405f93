/**
 * Shapes shared by the pieces of the embedded local runtime (DESIGN.md §7).
 * The synthesized CloudFormation template is the single source of truth: every
 * piece reads what it needs from it, with intrinsic functions resolved to local
 * names by `local/template.ts`.
 */

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string; Export?: unknown }>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
}

/** A Lambda function as the local runtime runs it. */
export interface LocalFunctionDefinition {
  /** CloudFormation logical id, e.g. `ApiHealthFunction1A2B3C4D`. */
  logicalId: string;
  /** Physical name used locally (FunctionName from the template, else `<stack>-<logicalId>`). */
  functionName: string;
  /** Absolute path of the bundled asset directory (contains index.js / index.mjs). */
  assetDir: string;
  /** Handler string from the template, e.g. `index.handler`. */
  handler: string;
  /** e.g. `nodejs22.x`; informational locally (the host Node runs it). */
  runtime: string;
  timeoutSeconds: number;
  memorySizeMb: number;
  /** Template environment with intrinsics resolved to local values. */
  environment: Record<string, string>;
}

/** What an invocation returns, mirroring Lambda's Invoke API. */
export type InvokeResult =
  | { ok: true; payload: unknown; requestId: string; durationMs: number; logs: string }
  | {
      ok: false;
      /** Lambda's FunctionError: `Unhandled` for thrown errors and timeouts. */
      functionError: 'Unhandled';
      payload: { errorType: string; errorMessage: string; trace?: string[] };
      requestId: string;
      durationMs: number;
      logs: string;
    };

export interface InvokeOptions {
  /** X-Ray trace header for this invocation (`Root=1-...;Parent=...;Sampled=1`). */
  traceHeader?: string;
  /** Client context / identity are not needed yet. */
}

/** Anything that can run a function by physical name or logical id. */
export interface FunctionInvoker {
  invoke(functionNameOrLogicalId: string, event: unknown, options?: InvokeOptions): Promise<InvokeResult>;
}
