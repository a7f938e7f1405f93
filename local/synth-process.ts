/**
 * The CDK synth, run as its own process by local/assembly.ts: the runtime
 * process never loads aws-cdk-lib, so the few hundred MB a synth leaves
 * behind (the construct tree, cdk-nag, esbuild's output) go away with it.
 *
 *   node --import tsx local/synth-process.ts <outdir> <context.json> <result.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { buildApp } from '../lib/app.js';

const [outdir, contextFile, resultFile] = process.argv.slice(2);
if (!outdir || !contextFile || !resultFile) {
  console.error('usage: synth-process.ts <outdir> <context.json> <result.json>');
  process.exit(2);
}
const context = JSON.parse(readFileSync(contextFile, 'utf8')) as Record<string, unknown>;
const { app, stack } = buildApp({ outdir, context });
const assembly = app.synth();
const artifact = assembly.getStackByName(stack.stackName);
writeFileSync(
  resultFile,
  JSON.stringify({ directory: assembly.directory, templateFile: artifact.templateFile, stackName: stack.stackName }),
);
