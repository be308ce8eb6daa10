import fs from 'node:fs';
import path from 'node:path';
import { OPT_ROOT, TASK_ROOT } from './sandbox/task-root.js';

/**
 * A function's code and layers as its environment sees them, for the server to look at without
 * ever following one of the function's symlinks on the host.
 *
 * A deployment package (or a layer) may hold symlinks with any target, as Lambda's may
 * (`bootstrap -> /opt/bootstrap`, `node_modules -> /opt/nodejs/node_modules`): they are meant for
 * the environment, where /var/task and /opt are the function's own code and layers. On the host
 * the same link may name any host file. So the server (root, or the server's uid) resolves a path
 * the environment would run or list here, one component at a time, with lstat and readlink only,
 * and only inside the directories presented to the environment; a path that leads anywhere else is
 * `outside`, and the server does not look at it (the environment, in its sandbox, finds out).
 */

/** A host directory (`dir`) an environment sees at `at`. */
interface Presented { at: string[]; dir: string }

export type Found =
  /** Something that is not a symlink, inside the code or layers: its host path and its lstat. */
  | { kind: 'found'; host: string; stats: fs.Stats; viaLink: boolean }
  /** The path leads out of the code and layers (`link`: through this symlink of the function's). */
  | { kind: 'outside'; path: string; link: { at: string; target: string } | null }
  | { kind: 'missing' };

/** As Linux's path resolution gives up (ELOOP). */
const MAX_LINKS = 40;

const segments = (p: string) => p.split('/').filter((s) => s !== '' && s !== '.');

export class CodeView {
  private readonly mounts: Presented[];
  private readonly shown: Array<{ dir: string; at: string }>;

  /**
   * The code at `taskRoot` and the layers (if any) at `optRoot`, where the sandbox presents them,
   * and, with `lambdaNames` (the default), also at Lambda's /var/task and /opt: what a function's
   * absolute links name, whatever the driver presents.
   */
  constructor(o: { codeDir: string; layersDir?: string; taskRoot: string; optRoot: string; lambdaNames?: boolean }) {
    const m: Array<[string, string]> = [[o.taskRoot, o.codeDir]];
    if (o.layersDir) m.push([o.optRoot, o.layersDir]);
    this.shown = m.map(([at, dir]) => ({ at, dir }));
    if (o.lambdaNames ?? true) {
      m.push([TASK_ROOT, o.codeDir]);
      if (o.layersDir) m.push([OPT_ROOT, o.layersDir]);
    }
    this.mounts = m.map(([at, dir]) => ({ at: segments(at), dir }))
      // The deepest first: a host path nested in another is the more specific one.
      .sort((a, b) => b.at.length - a.at.length);
  }

  /** Where an absolute path of the environment's is on the host, if in a presented directory. */
  private hostOf(p: string[]): { host: string } | 'above' | null {
    for (const m of this.mounts) {
      if (m.at.length <= p.length && m.at.every((s, i) => p[i] === s)) return { host: path.join(m.dir, ...p.slice(m.at.length)) };
    }
    // A directory above one (/, /var): passed through, never looked at.
    return this.mounts.some((m) => m.at.length > p.length && p.every((s, i) => m.at[i] === s)) ? 'above' : null;
  }

  /** Where the environment sees `host`, a path `find` found: under the task root or the layers root as the sandbox presents them. */
  presented(host: string): string {
    for (const s of this.shown) {
      const rel = path.relative(s.dir, host);
      if (rel === '') return s.at;
      if (rel !== '..' && !rel.startsWith('../') && !path.isAbsolute(rel)) return path.posix.join(s.at, rel);
    }
    return host;
  }

  /**
   * What the absolute path `p` is in the environment: found in the code or layers (symlinks on the
   * way followed as the kernel would, but only while they stay in them), outside them, or missing.
   */
  find(p: string): Found {
    let pending = segments(p);
    let done: string[] = [];
    let links = 0;
    let via: { at: string; target: string } | null = null;
    let stats: fs.Stats | null = null;
    for (;;) {
      const seg = pending.shift();
      if (seg === undefined) break;
      if (seg === '..') {
        // `done` holds no symlink: its parent is the lexical one, as the kernel's `..` is.
        done = done.slice(0, -1);
        stats = null;
        continue;
      }
      const next = [...done, seg];
      const where = this.hostOf(next);
      if (where === null) return { kind: 'outside', path: `/${[...next, ...pending].join('/')}`, link: via };
      if (where === 'above') {
        done = next;
        stats = null;
        continue;
      }
      let st: fs.Stats;
      try {
        st = fs.lstatSync(where.host);
      } catch {
        return { kind: 'missing' };
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) return { kind: 'missing' };
        const target = fs.readlinkSync(where.host);
        via ??= { at: `/${next.join('/')}`, target };
        pending = [...segments(target), ...pending];
        if (target.startsWith('/')) done = [];
        continue;
      }
      if (pending.length > 0 && !st.isDirectory()) return { kind: 'missing' };
      done = next;
      stats = st;
    }
    const where = this.hostOf(done);
    if (where === null || where === 'above') return { kind: 'outside', path: `/${done.join('/')}`, link: via };
    // After a `..`: every component of `done` was seen to be no symlink, so lstat follows none.
    try {
      stats ??= fs.lstatSync(where.host);
    } catch {
      return { kind: 'missing' };
    }
    return { kind: 'found', host: where.host, stats, viaLink: via !== null };
  }

  /**
   * The entries of directory `p` (withFileTypes: a symlink is a symlink), found as `find` finds
   * it; none when it is missing or leads out of the code and layers.
   */
  list(p: string): fs.Dirent[] {
    const f = this.find(p);
    if (f.kind !== 'found' || !f.stats.isDirectory()) return [];
    try {
      return fs.readdirSync(f.host, { withFileTypes: true });
    } catch {
      return [];
    }
  }
}

/** How a sandbox runs a function's entrypoints. */
export interface EntrypointRules {
  /** It presents code and layers at /var/task and /opt, as Lambda does. */
  lambdaLayout: boolean;
  /** The environment runs in a sandbox of its own: its exec resolves, as its uid, what the server does not look at. */
  isolated: boolean;
  /** Entrypoints run as a uid that is neither their files' owner nor in their group. */
  asOther: boolean;
}

/**
 * How to start an entrypoint (a custom runtime's bootstrap, a wrapper script, an extension) that
 * Lambda finds at `named` (/var/task/..., /opt/...) and this sandbox presents at `shown`: the path
 * to start, and why it cannot start (Runtime.InvalidEntrypoint's reason, in Lambda's words;
 * `missing` when there is no such file) or null.
 *
 * One that leads out of the code and layers through a symlink is not looked at: in a sandbox of
 * its own the environment's exec finds out (a link to /etc/passwd: "permission denied", as its
 * uid); the process sandbox's exec is the host's, which would start a host file on the
 * function's say-so, so there it is refused. Where the sandbox presents code and layers at their
 * own paths, a link that names /var/task or /opt would miss them: the file it leads to in them
 * is started by its own path.
 */
export function entrypoint(view: CodeView, named: string, shown: string, missing: string, r: EntrypointRules): { launch: string; problem: string | null } {
  const f = view.find(named);
  if (f.kind === 'missing') return { launch: shown, problem: missing };
  if (f.kind === 'outside') {
    if (r.isolated || !f.link) return { launch: shown, problem: null };
    return {
      launch: shown,
      problem: `fork/exec ${shown}: symlink ${f.link.at} -> ${f.link.target} leads out of the function's code and layers; `
        + `the process sandbox runs functions on the host, where it would start the host's ${f.path}`,
    };
  }
  if (!f.stats.isFile() || (f.stats.mode & (r.asOther ? 0o001 : 0o111)) === 0) return { launch: shown, problem: `fork/exec ${shown}: permission denied` };
  return { launch: f.viaLink && !r.lambdaLayout ? view.presented(f.host) : shown, problem: null };
}
