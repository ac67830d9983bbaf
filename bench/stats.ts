/**
 * What a bench server reports about itself between runs (a module, not a script): its CPU time, the
 * event loop's stalls, GC pauses, and the floor of a secure step measured in the same process.
 *
 * A stall is one event-loop turn that keeps a 1 ms timer waiting more than 10 ms: every request
 * arriving meanwhile waits that long too, so stalls are what a p99 on loopback is made of. Counted
 * with a timer chain (an exact count; what perf_hooks.monitorEventLoopDelay samples, without its
 * histogram), and PerformanceObserver('gc') for the pauses that were GC. On a shared machine the OS
 * also takes the core away now and then: a late timer whose process used less than half the time
 * in CPU was descheduled, not busy, and is counted apart (`preempted`).
 */
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { PerformanceObserver } from 'node:perf_hooks';

export const STALL_MS = 10;

export interface ServerStats {
  /** CPU time (user + system) since the last reset, microseconds. */
  cpu: number;
  /** Event-loop turns that delayed a 1 ms timer by more than STALL_MS, this process busy meanwhile. */
  stalls: number;
  /** Such delays while this process was mostly not running (the OS ran another). */
  preempted: number;
  /** The longest such delay, ms. */
  stallMax: number;
  /** GC pauses over STALL_MS, and all GC time, ms. */
  gcOver: number;
  gcMs: number;
  /** Extra figures a server adds (the store's own counters, say). */
  extra?: Record<string, number>;
}

/** Starts counting; `take()` returns what happened since the last `take()` and starts again. */
export function watchServer(extra?: () => Record<string, number>): { take(): ServerStats } {
  let stalls = 0;
  let preempted = 0;
  let stallMax = 0;
  let gcOver = 0;
  let gcMs = 0;
  let last = performance.now();
  // CPU time is read every 16 ticks (getrusage costs a system call), and a late tick compares the
  // CPU used since that reading with the wall time since it.
  let mark = { wall: last, cpu: process.cpuUsage() };
  let ticks = 0;
  const tick = () => {
    const now = performance.now();
    const late = now - last - 1;
    if (late > STALL_MS) {
      const c = process.cpuUsage(mark.cpu);
      if ((c.user + c.system) / 1000 < (now - mark.wall) / 2) preempted++;
      else {
        stalls++;
        if (late > stallMax) stallMax = late;
      }
    }
    last = now;
    if (++ticks % 16 === 0 || late > STALL_MS) mark = { wall: now, cpu: process.cpuUsage() };
    setTimeout(tick, 1).unref();
  };
  setTimeout(tick, 1).unref();
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      if (e.duration > STALL_MS) gcOver++;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  let cpu = process.cpuUsage();
  return {
    take(): ServerStats {
      const d = process.cpuUsage(cpu);
      const out: ServerStats = { cpu: d.user + d.system, stalls, preempted, stallMax, gcOver, gcMs, ...(extra ? { extra: extra() } : {}) };
      stalls = 0;
      preempted = 0;
      stallMax = 0;
      gcOver = 0;
      gcMs = 0;
      cpu = process.cpuUsage();
      last = performance.now();
      mark = { wall: last, cpu };
      return out;
    },
  };
}

/** CPU microseconds per call of `f`, after `warm` calls that are not counted. */
export function cpuPerCall(f: () => unknown, warm: number, n: number): number {
  for (let i = 0; i < warm; i++) f();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}

/**
 * The floor of any secure step on this stack (issue 16): one HMAC-SHA256 over a 250-byte request
 * signature base and one AES-256-GCM seal of a 1 KiB page with 200 bytes of additional data (its
 * IV drawn beforehand: the IV is the caller's business), straight on node:crypto, as a tight loop.
 * CPU microseconds per step, best of `rounds` (the least disturbed by the other processes here).
 */
export function floorMicros(smoke = false, rounds = 3): number {
  const key = randomBytes(32);
  const base = randomBytes(250);
  const aad = randomBytes(200);
  const body = randomBytes(1024);
  const iv = randomBytes(12);
  const once = () => {
    createHmac('sha256', key).update(base).digest();
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(aad);
    return Buffer.concat([c.update(body), c.final(), c.getAuthTag()]);
  };
  let best = Infinity;
  for (let r = 0; r < rounds; r++) best = Math.min(best, smoke ? cpuPerCall(once, 100, 500) : cpuPerCall(once, 5000, 40_000));
  return best;
}
