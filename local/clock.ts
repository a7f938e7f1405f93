/**
 * The one clock of the local runtime (DESIGN.md §7). Every timer the runtime
 * owns for emulated time reads it: delays, visibility timeouts, Wait states,
 * schedules, retry back-offs, cache TTLs. With `timeScale` N, simulated time
 * runs N× faster than the wall clock, so a test lives through a 15-minute
 * retry schedule in 15 s at N = 60.
 *
 * What stays in real time on purpose: a function's own timeout and the API
 * Gateway integration timeout (they bound real CPU work, which does not speed
 * up) and the reaping of idle execution environments (a resource limit).
 */

export interface ClockTimer {
  cancel(): void;
}

export class Clock {
  /** Wall-clock ms at which simulated time starts. */
  private readonly realStart: number;
  /** Simulated epoch ms at `realStart`. */
  private readonly simulatedStart: number;

  constructor(
    readonly timeScale = 1,
    start: { real?: number; simulated?: number } = {},
  ) {
    if (!Number.isFinite(timeScale) || timeScale <= 0) throw new Error(`timeScale must be a positive number, got ${timeScale}`);
    this.realStart = start.real ?? Date.now();
    this.simulatedStart = start.simulated ?? this.realStart;
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return this.simulatedStart + (Date.now() - this.realStart) * this.timeScale;
  }

  /** Simulated time as a Date. */
  date(): Date {
    return new Date(this.now());
  }

  /** Real milliseconds that `simulatedMs` of simulated time take. */
  realDelay(simulatedMs: number): number {
    return Math.max(0, simulatedMs) / this.timeScale;
  }

  /** Runs `fn` after `simulatedMs` of simulated time. The timer does not keep the process alive. */
  setTimeout(fn: () => void, simulatedMs: number): ClockTimer {
    const timer = setTimeout(fn, this.realDelay(simulatedMs));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  }

  /** Runs `fn` every `simulatedMs` of simulated time. */
  setInterval(fn: () => void, simulatedMs: number): ClockTimer {
    const timer = setInterval(fn, Math.max(1, this.realDelay(simulatedMs)));
    timer.unref();
    return { cancel: () => clearInterval(timer) };
  }

  /** Resolves after `simulatedMs` of simulated time (rejects with the signal's reason if aborted first). */
  sleep(simulatedMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, this.realDelay(simulatedMs));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * What a Lambda execution environment needs to keep its own `Date` in step
   * (passed as `SWITCHYARD_LOCAL_CLOCK`): `<realStart>:<simulatedStart>:<timeScale>`.
   * Absent at scale 1, where functions read the real clock as on AWS.
   */
  environment(): Record<string, string> {
    if (this.timeScale === 1) return {};
    return { SWITCHYARD_LOCAL_CLOCK: `${this.realStart}:${this.simulatedStart}:${this.timeScale}` };
  }
}

/** The context key that sets the scale: `npm start -- -c switchyard:local:timeScale=60`. */
export const TIME_SCALE_CONTEXT = 'switchyard:local:timeScale';

export function clockFromContext(context: Record<string, unknown>): Clock {
  const raw = context[TIME_SCALE_CONTEXT];
  if (raw === undefined || raw === '') return new Clock(1);
  const scale = Number(raw);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`${TIME_SCALE_CONTEXT} must be a positive number, got ${String(raw)}`);
  return new Clock(scale);
}
