/**
 * Broker process accounting from /proc: CPU time (utime + stime, in clock ticks of
 * `getconf CLK_TCK`) and resident memory, summed over the process and all its descendants
 * (a broker that forks workers is charged for them too). Linux only.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let clkTck = 0;

/** Clock ticks per second, from `getconf CLK_TCK` (read once). */
export function clockTicks(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

interface StatLine {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may contain spaces: split after the last ')'.
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  // f[0] = state (field 3); ppid is field 4, utime 14, stime 15 → f[1], f[11], f[12].
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
}

function readRssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    const st = readStat(pid);
    if (st === null) continue;
    let list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0 && out.length < 10_000) {
    const p = stack.pop() as number;
    out.push(p);
    const ch = children.get(p);
    if (ch) stack.push(...ch);
  }
  return out;
}

export interface ProcSample {
  /** CPU time consumed so far, microseconds (user + system, process tree). */
  cpuUs: number;
  /** Resident set size, KiB (process tree). */
  rssKiB: number;
  /** Wall clock, ms (performance.now). */
  at: number;
}

export function sampleProcess(root: number): ProcSample {
  return sampleProcesses([root]);
}

/** The sum over several process trees (a broker of several processes, e.g. two cluster nodes). */
export function sampleProcesses(roots: readonly number[]): ProcSample {
  const tck = clockTicks();
  let ticks = 0;
  let rss = 0;
  for (const root of roots) {
    for (const pid of processTree(root)) {
      const st = readStat(pid);
      if (st === null) continue;
      ticks += st.ticks;
      rss += readRssKiB(pid);
    }
  }
  return { cpuUs: (ticks * 1e6) / tck, rssKiB: rss, at: performance.now() };
}

/** CPU microseconds of the given processes only (no /proc scan): for frequent sampling. */
export function cpuOfPids(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const st = readStat(pid);
    if (st !== null) ticks += st.ticks;
  }
  return (ticks * 1e6) / clockTicks();
}
