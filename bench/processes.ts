/**
 * The benchmark's server processes and what it reads about them from Linux's `/proc` (proc(5)):
 *
 * - `startServerProcess` spawns one server (Lattice, the baseline, a peer) as a child process and waits for
 *   its `listening <url>` line on stdout, so every server has its own process, heap and event loop, apart from
 *   the load generator;
 * - `PeakRss` follows a process's peak resident set size during a case: it resets the kernel's high-water mark
 *   (`echo 5 > /proc/<pid>/clear_refs`, Linux ≥ 4.0) and reads `VmHWM` at the end, and also samples `VmRSS`
 *   every 100 ms in case the reset is not permitted;
 * - `cpuTicks` / `postgresBackendTicks` read the CPU time (user + system, in clock ticks of 1/100 s) of a
 *   process and of the PostgreSQL backends serving one `application_name`, for CPU per request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type pg from 'pg';

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
export const TICKS_PER_SECOND = 100;

/** A running server process. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** Origin announced by the process, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The last lines the process wrote to stderr (for error messages). */
  stderrTail(): string;
  /** What the process has written to stdout so far (the last 64 KiB), e.g. lines printed before `listening`. */
  startupOutput(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
  close(): Promise<void>;
}

/**
 * Spawn a server process and wait until it prints `listening <url>` on stdout.
 * @param options.command executable (e.g. `process.execPath`, or the Node 22 binary of a peer)
 * @param options.args its arguments
 * @param options.env variables added to this process's environment
 * @param options.timeoutMs how long to wait for the line (default 120 s: PostGraphile introspects first)
 * @throws Error naming the server, with the tail of its stderr, when it exits or times out before listening
 */
export async function startServerProcess(options: {
  name: string;
  command: string;
  args: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}): Promise<ServerProcess> {
  const child: ChildProcess = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stdout = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.name} did not start within ${(options.timeoutMs ?? 120_000) / 1000} s: ${stderr.trim().slice(-1500)}`));
    }, options.timeoutMs ?? 120_000);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} exited (${signal ?? `code ${code}`}) before listening: ${stderr.trim().slice(-1500) || '(no output)'}`));
    };
    child.once('exit', onExit);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${options.name} could not be started: ${err.message}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = (stdout + chunk).slice(-65536);
      const m = /^listening (http:\/\/\S+)$/m.exec(stdout);
      if (m) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(m[1]);
      }
    });
  });
  return {
    name: options.name,
    pid: child.pid!,
    url,
    stderrTail: () => stderr.trim().slice(-1500),
    startupOutput: () => stdout,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A `kB` field of `/proc/<pid>/status` in bytes, or null when the process is gone or has no such field. */
export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** User + system CPU time of a process in clock ticks (`TICKS_PER_SECOND`), or null when it is gone. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

/**
 * Peak resident set size of one process over an interval: `start()` resets the kernel's high-water mark and
 * starts sampling, `stop()` returns the larger of `VmHWM` (when the reset worked) and the sampled maximum.
 */
export class PeakRss {
  private timer: NodeJS.Timeout | undefined;
  private sampled = 0;
  private resetWorked = false;

  constructor(
    readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  /** Reset the high-water mark (when permitted) and start sampling. */
  start(): void {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.resetWorked = true;
    } catch {
      this.resetWorked = false; // not our process or not permitted: sampling only
    }
    this.sampled = procStatusBytes(this.pid, 'VmRSS') ?? 0;
    this.timer = setInterval(() => {
      this.sampled = Math.max(this.sampled, procStatusBytes(this.pid, 'VmRSS') ?? 0);
    }, this.intervalMs);
    this.timer.unref();
  }

  /** @returns the peak RSS in bytes since `start()`, or null when nothing could be read */
  stop(): number | null {
    clearInterval(this.timer);
    const hwm = this.resetWorked ? procStatusBytes(this.pid, 'VmHWM') : null;
    const peak = Math.max(this.sampled, hwm ?? 0);
    return peak > 0 ? peak : null;
  }
}

/**
 * CPU ticks of each PostgreSQL backend serving `applicationName` on `database`, by backend pid; null when
 * the backends' `/proc` entries cannot be read (PostgreSQL on another machine or in another pid namespace).
 * @param client a superuser connection (to see every session in `pg_stat_activity`)
 */
export async function postgresBackendTicks(client: pg.Client, applicationName: string, database: string): Promise<Map<number, number> | null> {
  const { rows } = await client.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
    [applicationName, database],
  );
  const ticks = new Map<number, number>();
  for (const { pid } of rows) {
    const t = cpuTicks(pid);
    if (t !== null) ticks.set(pid, t);
  }
  return rows.length > 0 && ticks.size === 0 ? null : ticks;
}

/**
 * CPU ticks the backends spent between two `postgresBackendTicks` snapshots: the growth of those present in
 * both plus the whole time of those that started in between (a backend that exited in between is lost; the
 * pools keep their connections open under load).
 */
export function backendTicksBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let sum = 0;
  for (const [pid, t] of after) sum += t - (before.get(pid) ?? 0);
  return sum;
}
