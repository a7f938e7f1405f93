/**
 * Starts the local runtime the way a user does (`switchyard local`, a child
 * process) and reads the URLs it prints when ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RuntimeProcess {
  url: string;
  dynamoEndpoint: string;
  awsEndpoint: string;
  readyMs: number;
  output: () => string;
  stop(): Promise<number | null>;
}

export interface RuntimeProcessOptions {
  dataDir?: string;
  outdir?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  /** CDK context for the synth, as `cdk synth -c key=value`. */
  context?: Record<string, string>;
}

export async function startRuntimeProcess(options: RuntimeProcessOptions = {}): Promise<RuntimeProcess> {
  const args = [path.join(root, 'node_modules/tsx/dist/cli.mjs'), path.join(root, 'bin/switchyard.ts'), 'local', '--port', '0', '--quiet'];
  args.push(...(options.dataDir ? ['--data-dir', options.dataDir] : ['--in-memory']));
  // Each test runtime synthesizes into its own assembly so it never races `npm start` or another runtime.
  args.push('--outdir', options.outdir ?? mkdtempSync(path.join(tmpdir(), 'switchyard-cdk-')));
  for (const [key, value] of Object.entries(options.context ?? {})) args.push('--context', `${key}=${value}`);
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const ready = await new Promise<{ url: string; dynamoEndpoint: string; awsEndpoint: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`local runtime not ready after ${options.timeoutMs ?? 90_000} ms:\n${output}`)),
      options.timeoutMs ?? 90_000,
    );
    const check = () => {
      const api = /API\s+(http:\/\/\S+)/.exec(output);
      const dynamo = /DynamoDB\s+(http:\/\/\S+)/.exec(output);
      const aws = /AWS APIs\s+(http:\/\/\S+)/.exec(output);
      if (api?.[1] && dynamo?.[1] && aws?.[1]) {
        clearTimeout(timer);
        resolve({ url: api[1], dynamoEndpoint: dynamo[1], awsEndpoint: aws[1] });
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`local runtime exited with ${code}:\n${output}`));
    });
  });

  return {
    ...ready,
    readyMs: performance.now() - started,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
