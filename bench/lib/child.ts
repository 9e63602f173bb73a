// Starting bench servers as their own processes, optionally pinned to a CPU.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface Child {
  proc: ChildProcess;
  pid: number;
  message: unknown;
  stop(): Promise<void>;
}

function haveTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs `node script ...args` (pinned to `cpu` when given and possible); resolves on its first IPC message. */
export async function startNodeChild(script: string, args: string[], cpu?: number): Promise<Child> {
  const pin = cpu !== undefined && haveTaskset();
  const cmd = pin ? 'taskset' : process.execPath;
  const argv = pin ? ['-c', String(cpu), process.execPath, script, ...args] : [script, ...args];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = (await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(([code]) => {
      throw new Error(`${script} exited with ${String(code)} before it was ready`);
    }),
  ])) as [unknown];
  return {
    proc,
    pid: proc.pid!,
    message,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Pins this process to one CPU so the load generator does not steal the server's. */
export function pinSelf(cpu: number): boolean {
  try {
    execFileSync('taskset', ['-cp', String(cpu), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
