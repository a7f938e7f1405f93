/**
 * Loaded into the runtime process by bench/cpu-profile.ts (`node --import`):
 * CPU profiles of the main thread AND of every Lambda execution environment.
 *
 * `--cpu-prof` cannot reach the environments: they are worker threads started
 * with an empty execArgv (a clean sandbox). The main thread's inspector can
 * attach to its workers, though (the NodeWorker domain, what DevTools uses),
 * and run each worker's profiler from here. The first SIGUSR2 starts the
 * profilers (and those of environments started later); the second stops them
 * and writes `<thread>.cpuprofile` files to $SWITCHYARD_PROFILE_DIR, then
 * `done` last. So only the load window is profiled, not start-up.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.SWITCHYARD_PROFILE_DIR;
// V8's default; finer sampling costs the profiled process noticeably more (one profiler thread per isolate).
const SAMPLING_INTERVAL_US = Number(process.env.SWITCHYARD_PROFILE_INTERVAL_US ?? 1000);

if (dir) {
  const session = new Session();
  session.connect();
  /** @type {(method: string, params?: object) => Promise<any>} inspector results are untyped JSON */
  const post = (method, params = {}) =>
    new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));

  /** @typedef {{ resolve: (v: any) => void, reject: (e: Error) => void }} Pending */
  /** Worker sessions: sessionId → pending replies by message id. @type {Map<string, { pending: Map<number, Pending> }>} */
  const workers = new Map();
  let nextId = 1;
  let profiling = false;
  /** @type {(sessionId: string, method: string, params?: object) => Promise<any>} */
  const toWorker = (sessionId, method, params = {}) =>
    new Promise((resolve, reject) => {
      const w = workers.get(sessionId);
      if (!w) return reject(new Error('worker gone'));
      const id = nextId++;
      w.pending.set(id, { resolve, reject });
      post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method, params }) }).catch(reject);
    });
  /** @param {string} sessionId */
  const startWorker = async (sessionId) => {
    await toWorker(sessionId, 'Profiler.enable');
    await toWorker(sessionId, 'Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
    await toWorker(sessionId, 'Profiler.start');
  };

  session.on('NodeWorker.attachedToWorker', ({ params }) => {
    workers.set(params.sessionId, { pending: new Map() });
    if (profiling) startWorker(params.sessionId).catch(() => undefined);
  });
  session.on('NodeWorker.detachedFromWorker', ({ params }) => {
    const w = workers.get(params.sessionId);
    for (const p of w?.pending.values() ?? []) p.reject(new Error('worker detached'));
    workers.delete(params.sessionId);
  });
  session.on('NodeWorker.receivedMessageFromWorker', ({ params }) => {
    const msg = JSON.parse(params.message);
    const p = msg.id !== undefined ? workers.get(params.sessionId)?.pending.get(msg.id) : undefined;
    if (!p) return;
    workers.get(params.sessionId)?.pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  });

  const ready = post('NodeWorker.enable', { waitForDebuggerOnStart: false });

  process.on('SIGUSR2', () => {
    void (async () => {
      await ready;
      if (!profiling) {
        profiling = true;
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
        await post('Profiler.start');
        await Promise.all([...workers.keys()].map((id) => startWorker(id).catch(() => undefined)));
        return;
      }
      profiling = false;
      const { profile } = await post('Profiler.stop');
      writeFileSync(path.join(dir, 'main.cpuprofile'), JSON.stringify(profile));
      let n = 0;
      await Promise.all(
        [...workers.keys()].map(async (id) => {
          try {
            const result = await toWorker(id, 'Profiler.stop');
            writeFileSync(path.join(dir, `worker-${++n}.cpuprofile`), JSON.stringify(result.profile));
          } catch {
            // an environment that ended during the load has nothing to give
          }
        }),
      );
      writeFileSync(path.join(dir, 'done'), '');
    })();
  });
}
