/**
 * Starts the local runtime the way a user does (`switchyard local`, a child
 * process) and reads the URLs it prints when ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface RuntimeProcess {
  url: string;
  dynamoEndpoint: string;
  awsEndpoint: string;
  readyMs: number;
  /** Process id of the runtime (for /proc/<pid>/status in the bench). */
  pid: number;
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
  /** Extra Node options for the runtime process, e.g. `--cpu-prof` (before the tsx loader). */
  execArgv?: string[];
}

export async function startRuntimeProcess(options: RuntimeProcessOptions = {}): Promise<RuntimeProcess> {
  const script = [path.join(root, 'bin/switchyard.ts'), 'local', '--port', '0', '--quiet'];
  // The tsx CLI runs the script in a second Node process and does not forward Node options to it
  // (`--cpu-prof` is not allowed in NODE_OPTIONS either), so with execArgv the runtime is started
  // as one process with tsx's loader instead: the options, and `pid`, then apply to the runtime itself.
  const args = options.execArgv?.length
    ? [...options.execArgv, '--import', pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href, ...script]
    : [path.join(root, 'node_modules/tsx/dist/cli.mjs'), ...script];
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
    pid: options.execArgv?.length ? (child.pid ?? 0) : runtimePid(child.pid ?? 0),
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

/**
 * Through the tsx CLI the spawned process is tsx's launcher and the runtime is
 * its only child; find that child (Linux /proc) so callers measure the runtime,
 * not the launcher. Elsewhere the launcher's pid is the best available answer.
 */
function runtimePid(launcherPid: number): number {
  try {
    const children = readFileSync(`/proc/${launcherPid}/task/${launcherPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return children.length === 1 ? Number(children[0]) : launcherPid;
  } catch {
    return launcherPid;
  }
}
