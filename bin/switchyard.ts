#!/usr/bin/env node
/**
 * The Switchyard CLI:
 *   local    the embedded runtime (`npm start`)
 *   invoke   run one function once with an event file, SAM-style (`npm run invoke`)
 *   openapi  regenerate docs/openapi.json from the route contract, and docs/events.md from the event catalog
 */
// Lambda runs in UTC. The time zone is per process (worker threads cannot set their own), so set it before any function runs.
process.env.TZ = 'UTC';
// Functions deploy on Node 22; the SDK's warning about this machine's Node 20 says nothing about them.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
// Light imports only: `local` spawns DynamoDB Local's JVM first and loads the runtime while it boots.
import { CHAOS_PATH, parseChaosFlag } from '../local/aws/chaos/index.js';
import { startDynamoDbLocal } from '../local/aws/dynamodb/local-process.js';
import { LOCAL_STATE_DIR, PROJECT_ROOT } from '../local/paths.js';
import { claimDataFolder, DataFolderBusyError, readOwner } from '../local/runtime-lock.js';
import type { LocalFunctionDefinition } from '../local/types.js';
import { removeLocalSession, SESSION_FILE, writeLocalSession } from './session.js';

const version = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEFAULT_DATA_DIR = path.join(LOCAL_STATE_DIR, 'data');
/** The AWS endpoint's port when free (LocalStack's 4566 is left alone); a busy port falls back to any free one. */
const DEFAULT_AWS_PORT = '4599';

const USAGE = `usage:
  switchyard local [--port 3000] [--aws-port ${DEFAULT_AWS_PORT}] [--host 127.0.0.1] [--in-memory] [--data-dir .switchyard/data]
                   [--outdir .switchyard/cdk.out] [-c key=value …] [--watch] [--debug] [--quiet]
                   [--max-per-function N] [--max-environments N] [--idle-timeout SECONDS]
                   [--chaos service:Operation=probability[:ErrorCode] …]
  switchyard invoke <function> -e <event.json> [--in-memory] [--data-dir …] [--outdir …]
  switchyard openapi

  -c switchyard:local:timeScale=60   run emulated time (delays, retries, schedules) 60× faster
  --chaos events:PutEvents=0.5       fail half the PutEvents calls as AWS would (InternalFailure unless
                                     :ErrorCode is given, e.g. lambda:Invoke=0.2:TooManyRequestsException);
                                     repeatable; change it while running at <AWS endpoint>${CHAOS_PATH}`;

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

const shortName = (functionName: string) => functionName.replace(/^Switchyard-/, '');

async function local(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: process.env.PORT ?? '3000' },
      'aws-port': { type: 'string', default: process.env.SWITCHYARD_AWS_PORT ?? DEFAULT_AWS_PORT },
      host: { type: 'string', default: '127.0.0.1' },
      'in-memory': { type: 'boolean', default: false },
      'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
      quiet: { type: 'boolean', short: 'q', default: false },
      watch: { type: 'boolean', short: 'w', default: false },
      debug: { type: 'boolean', default: false },
      'max-per-function': { type: 'string' },
      'max-environments': { type: 'string' },
      'idle-timeout': { type: 'string' },
      outdir: { type: 'string' },
      context: { type: 'string', short: 'c', multiple: true, default: [] },
      chaos: { type: 'string', multiple: true, default: [] },
    },
  });
  const quiet = values.quiet;
  // Checked before anything starts, so a typo costs nothing.
  const chaosRules = values.chaos.map(parseChaosFlag);
  const positive = (flag: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} wants a positive whole number, got ${raw}`);
    return n;
  };
  const maxPerFunction = positive('max-per-function', values['max-per-function']);
  const maxEnvironments = positive('max-environments', values['max-environments']);
  const idleSeconds = positive('idle-timeout', values['idle-timeout']);
  const dataDir = values['in-memory'] ? undefined : path.resolve(values['data-dir']);
  const lock = dataDir ? claimDataFolder(dataDir, 'local') : undefined;
  console.log('switchyard: starting (synth, DynamoDB Local, resources)…');
  const dynamodb = startDynamoDbLocal(dataDir ? { dataDir } : {});
  dynamodb.catch(() => undefined); // the runtime awaits it and reports a failure; this only keeps it from counting as unhandled meanwhile
  const { startLocalRuntime } = await import('../local/runtime.js');
  const runtime = await startLocalRuntime({
    dynamodb,
    port: Number(values.port),
    awsPort: Number(values['aws-port']),
    host: values.host,
    ...(dataDir ? { dataDir } : {}),
    ...(values.outdir ? { outdir: values.outdir } : {}),
    context: parseContext(values.context),
    debug: values.debug,
    lambda: {
      ...(maxPerFunction ? { maxConcurrencyPerFunction: maxPerFunction } : {}),
      ...(maxEnvironments ? { maxEnvironments } : {}),
      ...(idleSeconds ? { idleTimeoutMs: idleSeconds * 1000 } : {}),
    },
    onProgress: (line) => {
      if (!quiet) console.log(`switchyard: ${line}`);
    },
    onFunctionLog: (fn, line) => {
      if (!quiet) process.stdout.write(`[${shortName(fn)}] ${line}\n`);
    },
  });
  lock?.update({ apiUrl: runtime.url, awsEndpoint: runtime.awsEndpoint, dynamoEndpoint: runtime.dynamoEndpoint });
  // Set through the room's own HTTP interface once the runtime is up: start-up itself is never faulted.
  if (chaosRules.length > 0) {
    const response = await fetch(`${runtime.awsEndpoint}${CHAOS_PATH}`, { method: 'PUT', body: JSON.stringify(chaosRules) });
    if (!response.ok) throw new Error(`--chaos: ${await response.text()}`);
  }
  const chaosLine =
    chaosRules.length === 0
      ? ''
      : `  Chaos      ${chaosRules.map((r) => `${r.service}:${r.operation} ${Math.round(r.probability * 1000) / 10}% ${r.error}`).join(', ')}  (${runtime.awsEndpoint}${CHAOS_PATH})\n`;
  const storage = dataDir ? path.relative(process.cwd(), dataDir) || dataDir : 'in memory (lost on exit)';
  const adminKey = runtime.bootstrapValues.SWITCHYARD_ADMIN_API_KEY ?? '<see Secrets Manager>';
  const adminPassword = runtime.bootstrapValues.SWITCHYARD_ADMIN_PASSWORD ?? '<see Secrets Manager>';
  const { synthMs, synthCached, totalMs } = runtime.timings;
  const scale = runtime.clock.timeScale === 1 ? '' : `, clock ${runtime.clock.timeScale}× faster`;
  console.log(`
Switchyard ${version} is running (ready in ${(totalMs / 1000).toFixed(1)} s: ${synthCached ? 'assembly reused' : `synth ${(synthMs / 1000).toFixed(1)} s`}${scale})

  API        ${runtime.url}
  AWS APIs   ${runtime.awsEndpoint}  (${runtime.dispatcher.services().concat('secretsmanager', 'dynamodb').join(', ')})
  DynamoDB   ${runtime.dynamoEndpoint}  data ${storage}
  Functions  ${runtime.functions.map((f) => shortName(f.functionName)).join(', ')}
${chaosLine}
Admin credentials (set SWITCHYARD_ADMIN_PASSWORD / SWITCHYARD_ADMIN_API_KEY before the first start to choose them):
  user admin, password ${adminPassword}
  API key    ${adminKey}

Try it:
  curl ${runtime.url}/health/ready
  curl -X POST ${runtime.url}/api/v1/receivers -H 'X-API-Key: ${adminKey}' -H 'Content-Type: application/json' \\
       -d '{"name":"ci","type":"ci.pipeline","version":"1.0.0","schema":{"type":"object"}}'
  curl ${runtime.url}/api/v1/receivers -H 'X-API-Key: ${adminKey}'

Look inside with the AWS CLI or any SDK (any credentials):
  aws --endpoint-url ${runtime.awsEndpoint} --region us-east-1 lambda list-functions
  aws --endpoint-url ${runtime.awsEndpoint} --region us-east-1 dynamodb list-tables

Read the event bus through a queue of your own (every Switchyard event, as EventBridge delivers it):
  aws --endpoint-url ${runtime.awsEndpoint} --region us-east-1 sqs create-queue --queue-name bus-tap
  aws --endpoint-url ${runtime.awsEndpoint} --region us-east-1 events put-rule --name bus-tap --event-bus-name switchyard --event-pattern '{"source":[{"prefix":"switchyard."}]}'
  aws --endpoint-url ${runtime.awsEndpoint} --region us-east-1 events put-targets --rule bus-tap --event-bus-name switchyard --targets Id=tap,Arn=arn:aws:sqs:us-east-1:000000000000:bus-tap
  aws --endpoint-url ${runtime.awsEndpoint} --region us-east-1 sqs receive-message --queue-url ${runtime.awsEndpoint}/000000000000/bus-tap --wait-time-seconds 10

API reference: docs/openapi.json, docs/auth.md, docs/events.md · local runtime: docs/local-runtime.md · Ctrl-C stops everything.
`);
  for (const warning of runtime.warnings) console.warn(`warning: ${warning}`);
  // For local tools (edge-sim, demo): they read the URL and admin key here instead of taking the key on a command line.
  const session = {
    url: runtime.url,
    awsEndpoint: runtime.awsEndpoint,
    adminApiKey: adminKey,
    pid: process.pid,
    startedAt: new Date().toISOString(),
  };
  const wroteSession = runtime.bootstrapValues.SWITCHYARD_ADMIN_API_KEY !== undefined && writeLocalSession(session);
  if (!wroteSession && !quiet)
    console.log(`switchyard: ${path.relative(process.cwd(), SESSION_FILE)} left alone (another running runtime's)`);
  // Loaded only with --watch: the bundler's options come with aws-cdk-lib, which a cached start never loads.
  const watcher = values.watch
    ? (await import('../local/watch.js')).watchFunctions(runtime, {
        onReload: (line) => console.log(`switchyard: ${line}`),
        onError: (line) => console.error(`switchyard: ${line}`),
      })
    : undefined;
  if (watcher) console.log('switchyard: watching functions/ and shared/ (lib/ changes need a restart)');
  const shutdown = (signal: string) => {
    console.log(`\nswitchyard: ${signal}, stopping…`);
    watcher?.close();
    if (wroteSession) removeLocalSession(process.pid);
    runtime.stop().then(
      () => {
        lock?.release();
        process.exit(0);
      },
      (error: unknown) => {
        console.error(error);
        lock?.release();
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return new Promise<number>(() => undefined); // runs until a signal
}

/** `health`, `outbox-sweeper`, a logical id or a physical name → the function. */
function findFunction(functions: Array<Pick<LocalFunctionDefinition, 'functionName' | 'logicalId'>>, name: string) {
  const wanted = name.toLowerCase().replace(/-/g, '');
  // CDK logical ids end in an 8-hex-digit hash; API functions are `<Name>Function`, others `<Construct><Name>`.
  const stem = (f: Pick<LocalFunctionDefinition, 'functionName' | 'logicalId'>) =>
    (f.logicalId || f.functionName).toLowerCase().replace(/[0-9a-f]{8}$/i, '');
  return (
    functions.find((f) => f.logicalId === name || f.functionName === name) ??
    functions.find((f) => stem(f).endsWith(`${wanted}function`)) ??
    functions.find((f) => stem(f).endsWith(wanted))
  );
}

function functionList(functions: Array<Pick<LocalFunctionDefinition, 'functionName' | 'logicalId'>>): string {
  return functions
    .map((f) =>
      (f.logicalId || f.functionName)
        .replace(/^Switchyard-/, '')
        .replace(/[0-9A-F]{8}$/, '')
        .replace(/Function.*$/, '')
        .replace(/^(Events(?=Relay|OutboxSweeper)|Jobs(?=EdgeHealth))/, '')
        .replace(/(?<=[a-z])(?=[A-Z])/g, '-')
        .toLowerCase(),
    )
    .join(', ');
}

/** Invokes through a running runtime's Lambda API (`aws lambda invoke` against its endpoint). */
async function invokeRunning(awsEndpoint: string, name: string, event: unknown): Promise<number> {
  const listed = (await (await fetch(`${awsEndpoint}/2015-03-31/functions/`)).json()) as { Functions: Array<{ FunctionName: string }> };
  const functions = listed.Functions.map((f) => ({ functionName: f.FunctionName, logicalId: f.FunctionName.replace(/^Switchyard-/, '') }));
  const match = findFunction(functions, name);
  if (!match) {
    console.error(`No function "${name}". Functions: ${functionList(functions)}`);
    return 2;
  }
  const response = await fetch(`${awsEndpoint}/2015-03-31/functions/${encodeURIComponent(match.functionName)}/invocations`, {
    method: 'POST',
    headers: { 'X-Amz-Log-Type': 'Tail', 'Content-Type': 'application/json' },
    body: JSON.stringify(event),
  });
  const log = Buffer.from(response.headers.get('x-amz-log-result') ?? '', 'base64').toString('utf8');
  process.stderr.write(log.endsWith('\n') || !log ? log : `${log}\n`);
  console.log(JSON.stringify(JSON.parse(await response.text()), null, 2));
  return response.headers.get('x-amz-function-error') ? 1 : 0;
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
  const dataDir = values['in-memory'] ? undefined : path.resolve(values['data-dir']);
  // A runtime already on this data folder is reused: its DynamoDB Local owns the files.
  const owner = dataDir ? readOwner(dataDir) : undefined;
  if (owner?.kind === 'local' && owner.awsEndpoint) {
    console.error(`switchyard: invoking through the running runtime (pid ${owner.pid}) at ${owner.awsEndpoint}`);
    return invokeRunning(owner.awsEndpoint, name, event);
  }
  const lock = dataDir ? claimDataFolder(dataDir, 'invoke') : undefined;
  const { startLocalRuntime } = await import('../local/runtime.js');
  const runtime = await startLocalRuntime({
    serveApi: false,
    ...(dataDir ? { dataDir } : {}),
    ...(values.outdir ? { outdir: values.outdir } : {}),
  });
  try {
    const match = findFunction(runtime.functions, name);
    if (!match) {
      console.error(`No function "${name}". Functions: ${functionList(runtime.functions)}`);
      return 2;
    }
    const result = await runtime.lambda.invoke(match.logicalId, event);
    process.stderr.write(result.logs.endsWith('\n') ? result.logs : `${result.logs}\n`);
    console.log(JSON.stringify(result.payload, null, 2));
    return result.ok ? 0 : 1;
  } finally {
    await runtime.stop();
    lock?.release();
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
      const { generateOpenApi } = await import('../shared/api/openapi.js');
      const target = path.join(PROJECT_ROOT, 'docs', 'openapi.json');
      writeFileSync(target, `${JSON.stringify(generateOpenApi(version), null, 2)}\n`);
      console.log(`wrote ${path.relative(process.cwd(), target)}`);
      const { eventsMarkdown } = await import('../shared/events/docs.js');
      const events = path.join(PROJECT_ROOT, 'docs', 'events.md');
      const prettier = await import('prettier');
      // Formatted as the repository formats Markdown, so the file `npm run format` leaves alone is the one generated.
      const options = (await prettier.resolveConfig(events)) ?? {};
      writeFileSync(events, await prettier.format(eventsMarkdown(), { ...options, parser: 'markdown' }));
      console.log(`wrote ${path.relative(process.cwd(), events)}`);
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
    // A busy data folder is a clear refusal, not a crash: exit without waiting for anything.
    if (error instanceof DataFolderBusyError) process.exit(1);
    process.exitCode = 1;
  },
);
