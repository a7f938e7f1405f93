import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '../../lib/app.js';
import type { CfnTemplate } from '../../local/types.js';

/**
 * Synthesizes the real app with cdk-nag attached (app.synth() throws on any
 * unacknowledged finding) and without bundling, which template tests do not need.
 */
export function synthTemplate(context: Record<string, unknown> = {}): CfnTemplate {
  const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-cdk-'));
  const { app, stack } = buildApp({ outdir, context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const assembly = app.synth();
  return assembly.getStackByName(stack.stackName).template as CfnTemplate;
}
