#!/usr/bin/env node
/**
 * The Switchyard CLI:
 *   local    the embedded runtime (`npm start`)
 *   invoke   run one function once with an event file, SAM-style (`npm run invoke`)
 *   openapi  regenerate docs/openapi.json from the route contract
 */
// Lambda runs in UTC. The time zone is per process (worker threads cannot set their own), so set it before any function runs.
process.env.TZ = 'UTC';

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateOpenApi } from '../shared/api/openapi.js';
import { LambdaService } from '../local/lambda/service.js';
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  LOCAL_STATE_DIR,
  localBaseEnvironment,
  prepareBackend,
  PROJECT_ROOT,
  startLocalRuntime,
} from '../local/runtime.js';

const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEFAULT_DATA_DIR = path.join(LOCAL_STATE_DIR, 'data');

const USAGE = `usage:
  switchyard local [--port 3000] [--host 127.0.0.1] [--in-memory] [--data-dir .switchyard/data] [--outdir .switchyard/cdk.out] [-c key=value …] [--quiet]
  switchyard invoke <function> -e <event.json> [--in-memory] [--data-dir …] [--outdir …]
  switchyard openapi`;

/** `-c key=value` pairs, as `cdk synth -c`. */
function parseContext(pairs: string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new Error(`--context wants key=value, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

async function local(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.PORT ?? '3000' },
      host: { type: 'string', default: '127.0.0.1' },
      'in-memory': { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      quiet: { type: 'boolean', short: 'q', default: false },
      outdir: { type: 'string' },
      context: { type: 'string', short: 'c', multiple: true, default: [] },
    },
  });
  const quiet = values.quiet;
  console.log('switchyard: synthesizing the stack and starting DynamoDB Local…');
  const runtime = await startLocalRuntime({
    port: Number(values.port),
    host: values.host,
    ...(values['in-memory'] ? {} : { dataDir: values['data-dir'] }),
    ...(values.outdir ? { outdir: values.outdir } : {}),
    context: parseContext(values.context),
    onFunctionLog: (fn, line) => {
      if (!quiet) process.stdout.write(`[${fn.replace(/^Switchyard-/, '')}] ${line}\n`);
    },
  });
  const storage = values['in-memory'] ? 'in memory (lost on exit)' : path.relative(process.cwd(), values['data-dir']) || values['data-dir'];
  const adminKey = runtime.bootstrapValues.SWITCHYARD_ADMIN_API_KEY ?? '<see Secrets Manager>';
  const adminPassword = runtime.bootstrapValues.SWITCHYARD_ADMIN_PASSWORD ?? '<see Secrets Manager>';
  console.log(`
Switchyard ${version} is running (ready in ${(runtime.timings.totalMs / 1000).toFixed(1)} s: synth ${(runtime.timings.synthMs / 1000).toFixed(1)} s)

  API        ${runtime.url}
  DynamoDB   ${runtime.dynamoEndpoint}  data ${storage}
  AWS APIs   ${runtime.awsEndpoint}  (Secrets Manager)
  Functions  ${runtime.functions.map((f) => f.functionName.replace(/^Switchyard-/, '')).join(', ')}

Admin credentials (set SWITCHYARD_ADMIN_PASSWORD / SWITCHYARD_ADMIN_API_KEY before the first start to choose them):
  user admin, password ${adminPassword}
  API key    ${adminKey}

Try it:
  curl ${runtime.url}/health/ready
  curl -X POST ${runtime.url}/api/v1/receivers -H 'X-API-Key: ${adminKey}' -H 'Content-Type: application/json' \\
       -d '{"name":"ci","type":"ci.pipeline","version":"1.0.0","schema":{"type":"object"}}'
  curl ${runtime.url}/api/v1/receivers -H 'X-API-Key: ${adminKey}'
  curl -X POST ${runtime.url}/api/v1/auth/login -H 'Content-Type: application/json' \\
       -d '{"username":"admin","password":"${adminPassword}"}'

API reference: docs/openapi.json, docs/auth.md · Ctrl-C stops everything.
`);
  for (const warning of runtime.warnings) console.warn(`warning: ${warning}`);
  const shutdown = (signal: string) => {
    console.log(`\nswitchyard: ${signal}, stopping…`);
    runtime.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return new Promise<number>(() => undefined); // runs until a signal
}

async function invoke(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      event: { type: 'string', short: 'e' },
      'in-memory': { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      outdir: { type: 'string' },
    },
  });
  const [name] = positionals;
  if (!name || !values.event) {
    console.error(USAGE);
    return 2;
  }
  const event: unknown = JSON.parse(readFileSync(values.event, 'utf8'));
  const backend = await prepareBackend({
    ...(values['in-memory'] ? {} : { dataDir: values['data-dir'] }),
    ...(values.outdir ? { outdir: values.outdir } : {}),
  });
  const functions = backend.resolver.functions(backend.synthesized.outdir);
  const wanted = name.toLowerCase();
  const match =
    functions.find((f) => f.logicalId === name || f.functionName === name) ??
    functions.find((f) =>
      f.logicalId
        .toLowerCase()
        .replace(/[0-9a-f]{8}$/i, '')
        .endsWith(`${wanted}function`),
    );
  if (!match) {
    console.error(
      `No function "${name}". Functions: ${functions.map((f) => f.logicalId.replace(/Function.*$/, '').toLowerCase()).join(', ')}`,
    );
    await backend.stop();
    return 2;
  }
  const lambda = new LambdaService(functions, {
    baseEnvironment: localBaseEnvironment(backend.dynamo.endpoint, backend.aws.endpoint),
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT,
  });
  try {
    const result = await lambda.invoke(match.logicalId, event);
    process.stderr.write(result.logs.endsWith('\n') ? result.logs : `${result.logs}\n`);
    console.log(JSON.stringify(result.payload, null, 2));
    return result.ok ? 0 : 1;
  } finally {
    await lambda.stop();
    await backend.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'local':
      return local(rest);
    case 'invoke':
      return invoke(rest);
    case 'openapi': {
      const target = path.join(PROJECT_ROOT, 'docs', 'openapi.json');
      writeFileSync(target, `${JSON.stringify(generateOpenApi(version), null, 2)}\n`);
      console.log(`wrote ${path.relative(process.cwd(), target)}`);
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
