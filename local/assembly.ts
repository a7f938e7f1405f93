/**
 * Synthesizes the CDK app in-process (functions bundled by the local esbuild,
 * exactly as `cdk synth` does) and returns the stack's template.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildApp, STACK_NAME } from '../lib/app.js';
import type { CfnTemplate } from './types.js';

export interface SynthesizedStack {
  outdir: string;
  stackName: string;
  template: CfnTemplate;
  durationMs: number;
}

const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/** The context `cdk synth` would use, so the local stack is the one that deploys. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(projectRoot, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

export function synthesize(outdir: string, context: Record<string, unknown> = {}): SynthesizedStack {
  const started = performance.now();
  const { app, stack } = buildApp({
    outdir,
    // Asset metadata lets the runtime find each function's bundle, as SAM does.
    context: { ...cdkJsonContext(), 'aws:cdk:enable-asset-metadata': true, ...context },
  });
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const template = JSON.parse(readFileSync(path.join(assembly.directory, artifact.templateFile), 'utf8')) as CfnTemplate;
  return { outdir: assembly.directory, stackName: STACK_NAME, template, durationMs: performance.now() - started };
}
