import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface SwitchyardFunctionProps extends Omit<NodejsFunctionProps, 'entry'> {
  /** Folder under functions/, e.g. `receivers`. */
  name: string;
  serviceVersion: string;
}

/**
 * Every Lambda of the stack: Node 22 on arm64, bundled by the local esbuild
 * (no Docker) with the AWS SDK inside the bundle so the code runs against the
 * SDK version it was tested with, X-Ray active and Powertools configured.
 */
export class SwitchyardFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: SwitchyardFunctionProps) {
    const { name, serviceVersion, environment, ...rest } = props;
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    super(scope, id, {
      entry: path.join(projectRoot, 'functions', name, 'index.ts'),
      handler: 'handler',
      projectRoot,
      depsLockFilePath: path.join(projectRoot, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      logGroup,
      bundling: {
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        externalModules: [],
        mainFields: ['module', 'main'],
        forceDockerBundling: false,
        // Size warnings are expected (the SDK is bundled on purpose); bench/ reports the sizes.
        logLevel: LogLevel.ERROR,
      },
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'switchyard',
        POWERTOOLS_METRICS_NAMESPACE: 'Switchyard',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
        SWITCHYARD_VERSION: serviceVersion,
        ...environment,
      },
      ...rest,
    });
  }
}
