import type { ChildProcess } from 'node:child_process';
import { startResident, stopResident } from './shell.js';

/** How long a request may take before its helper is taken for hung, killed and started again. */
const ANSWER_MS = 10_000;

/** A helper's process and its requests awaiting an answer. */
interface Proc {
  child: ChildProcess;
  pending: Map<number, (answer: Answer) => void>;
  dead: boolean;
}

/** A helper's answer: errno 0 when done (-1: the helper died or hung), and the rest of its line. */
export interface Answer {
  errno: number;
  rest: string;
}

/**
 * The server's side of a resident helper (startResident) that works one request per line,
 * "<id> <request>", and answers each "<id> <errno>[ <rest>]". A helper that died is started
 * again at the next request; one that does not answer in 10 s is killed (what it had pending
 * fails with errno -1) and replaced.
 */
export class ResidentClient {
  private next = 1;
  private current: Proc;
  /** A replacement being started after the helper died (killed by hand, say). */
  private restarting: Promise<Proc | string> | null = null;
  private stopped = false;
  private constructor(child: ChildProcess, private readonly file: string, private readonly args: string[], private readonly what: string) {
    this.current = ResidentClient.serve(child);
  }

  /** Starts `file args` (see startResident); resolves to the client, or to why it did not start. */
  static async start(file: string, args: string[], what: string): Promise<ResidentClient | string> {
    const r = await startResident(file, args);
    return typeof r === 'string' ? `${what} did not start: ${r}` : new ResidentClient(r, file, args, what);
  }

  private static serve(child: ChildProcess): Proc {
    const m: Proc = { child, pending: new Map(), dead: false };
    child.stdin!.on('error', () => { /* it died: its exit fails what is pending */ });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [id, errno, ...rest] = line.split(' ');
        const done = m.pending.get(Number(id));
        m.pending.delete(Number(id));
        if (m.pending.size === 0) hold(m, false);
        done?.({ errno: Number(errno), rest: rest.join(' ') });
      }
    });
    child.on('exit', () => {
      m.dead = true;
      for (const done of m.pending.values()) done({ errno: -1, rest: '' });
      m.pending.clear();
    });
    return m;
  }

  /** The running helper: a new one if it died. */
  private async alive(): Promise<Proc> {
    if (!this.current.dead) return this.current;
    if (this.stopped) throw new Error(`${this.what} is stopped`);
    this.restarting ??= startResident(this.file, this.args).then((r) => {
      this.restarting = null;
      if (typeof r === 'string') return r;
      if (this.stopped) { void stopResident(r); return `${this.what} is stopped`; }
      return (this.current = ResidentClient.serve(r));
    });
    const m = await this.restarting;
    if (typeof m === 'string') throw new Error(`${this.what} did not start again: ${m}`);
    return m;
  }

  /** Sends `request` (one line, no newline) and resolves to the answer. */
  async request(request: string): Promise<Answer> {
    const m = await this.alive();
    const id = this.next++;
    if (m.pending.size === 0) hold(m, true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => m.child.kill('SIGKILL'), ANSWER_MS);
      m.pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      m.child.stdin!.write(`${id} ${request}\n`);
    });
  }

  /** Sends a request that has no answer, to the helper running now (none when it is dead: nothing to do). */
  tell(request: string): void {
    if (!this.current.dead && !this.stopped) this.current.child.stdin!.write(`0 ${request}\n`);
  }

  /** The pid of the running helper (tests). */
  get pid(): number | undefined {
    return this.current.child.pid;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return stopResident(this.current.child);
  }
}

/** An answer awaited keeps this process running (the helper's pipes are unref'd otherwise). */
function hold(m: Proc, on: boolean): void {
  const out = m.child.stdout as unknown as { ref?: () => void; unref?: () => void };
  if (on) out.ref?.();
  else out.unref?.();
}
