/**
 * cdk-nag 3 runs as a CDK validation plugin (lib/app.ts:
 * `Validations.of(app).addPlugins(new AwsSolutionsChecks(app))`): at synth it
 * writes validation-report.json into the assembly and throws
 * "Validation failed" when a finding (error or warning) is not acknowledged
 * with `Validations.of(scope).acknowledge(...)` (lib/nag.ts).
 */
import { RemovalPolicy, type App } from 'aws-cdk-lib';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';

interface Finding {
  ruleName: string;
  severity: 'error' | 'warning';
  violatingConstructs: Array<{ constructPath: string }>;
  acknowledgedId?: string;
  reason?: string;
}
interface ValidationReport {
  pluginReports: Array<{ pluginName: string; conclusion: string; violations: Finding[]; suppressedViolations?: Finding[] }>;
}

/** Synthesizes the real app (no bundling) after `modify`, and returns the synth error, if any, with the validation report. */
function synthesize(modify: (app: App, stack: ReturnType<typeof buildApp>['stack']) => void = () => {}) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'switchyard-nag-'));
  const { app, stack } = buildApp({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  modify(app, stack);
  let error: Error | undefined;
  try {
    app.synth();
  } catch (e) {
    error = e as Error;
  }
  const report = JSON.parse(readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
  const awsSolutions = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
  return { error, awsSolutions };
}

describe('cdk-nag AwsSolutions', () => {
  it('checks the real app and finds nothing unacknowledged; every acknowledgement gives a reason', () => {
    const { error, awsSolutions } = synthesize();
    expect(error).toBeUndefined();
    // The pack ran: an app without the plugin would have no AwsSolutions report at all.
    expect(awsSolutions).toBeDefined();
    expect(awsSolutions?.violations.map((v) => `${v.ruleName} (${v.severity}) at ${v.violatingConstructs[0]?.constructPath}`)).toEqual([]);
    expect(awsSolutions?.conclusion).toBe('success');
    expect(awsSolutions?.suppressedViolations?.length).toBeGreaterThan(0);
    for (const acknowledged of awsSolutions?.suppressedViolations ?? []) {
      expect(acknowledged.reason?.length, acknowledged.ruleName).toBeGreaterThan(20);
    }
  });

  it('fails the synth of the real app on a non-compliant resource nobody acknowledged', () => {
    // A bucket without SSL enforcement, server access logs or versioning: AwsSolutions-S10 (and S1) findings.
    const { error, awsSolutions } = synthesize((_, stack) => {
      new Bucket(stack, 'NagProbeBucket', { removalPolicy: RemovalPolicy.DESTROY });
    });
    expect(error?.message).toMatch(/AwsSolutions::AwsSolutions-S10/);
    expect(awsSolutions?.conclusion).toBe('failure');
    const s10 = awsSolutions?.violations.find((v) => v.ruleName === 'AwsSolutions-S10');
    expect(s10).toMatchObject({ severity: 'error' });
    expect(s10?.violatingConstructs.map((c) => c.constructPath)).toEqual(['Switchyard/NagProbeBucket/Resource']);
    // The findings are the probe's only: the rest of the stack stays clean.
    for (const v of awsSolutions?.violations ?? []) {
      for (const c of v.violatingConstructs) expect(c.constructPath, v.ruleName).toMatch(/^Switchyard\/NagProbeBucket\//);
    }
  });
});
