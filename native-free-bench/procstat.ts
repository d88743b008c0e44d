// CPU accounting from /proc (Linux). Everything here degrades to null where /proc is absent, so the load generator
// still runs on other systems; it just cannot report server CPU there.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

let clockTicks: number | null = null;
/** USER_HZ, the unit of /proc times (100 on every common Linux build). */
export function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface ProcCpu {
  /** user + system seconds of the process itself (all its threads) */
  selfS: number;
  /** user + system seconds of its children that have exited and been waited for */
  childrenS: number;
}

/** utime+stime (fields 14, 15) and cutime+cstime (16, 17) of /proc/PID/stat, in seconds; null if unreadable. */
export function processCpu(pid: number | 'self'): ProcCpu | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3]
  const f = (n: number): number => Number(rest[n - 3] ?? 0);
  const hz = ticksPerSecond();
  return { selfS: (f(14) + f(15)) / hz, childrenS: (f(16) + f(17)) / hz };
}

export interface MachineCpu {
  /** seconds of all cores spent not idle (user, nice, system, irq, softirq, steal) */
  busyS: number;
  /** seconds of all cores in total */
  totalS: number;
}

/** The aggregate "cpu" line of /proc/stat; null if unreadable. */
export function machineCpu(): MachineCpu | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const line = text.split('\n', 1)[0] ?? '';
  if (!line.startsWith('cpu ')) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already included in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const hz = ticksPerSecond();
  const busy = user + nice + system + irq + softirq + steal;
  return { busyS: busy / hz, totalS: (busy + idle + iowait) / hz };
}

/** The 1-minute load average, or null. */
export function loadAverage1(): number | null {
  try {
    return Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

/**
 * Established TCP connections of this process whose remote port is one of `ports` (sockets of /proc/self/fd matched
 * with /proc/net/tcp and tcp6 by inode); null if /proc is unreadable. Worker threads share the process, so their
 * connections count too. Used to check that `--connections C` really gives C connections (grpc-js may share one).
 */
export function tcpConnectionsTo(ports: number[]): number | null {
  try {
    const inodes = new Set<string>();
    for (const fd of fs.readdirSync('/proc/self/fd')) {
      try {
        const link = fs.readlinkSync(`/proc/self/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m !== null) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
    const wanted = new Set(ports);
    let n = 0;
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
        if (f.length < 10 || f[3] !== '01') continue;
        const remPort = parseInt((f[2] ?? '').split(':')[1] ?? '', 16);
        if (wanted.has(remPort) && inodes.has(f[9]!)) n++;
      }
    }
    return n;
  } catch {
    return null;
  }
}
