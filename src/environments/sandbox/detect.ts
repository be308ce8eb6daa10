import { spawnSync } from 'node:child_process';
import { cgroupsAvailable } from './cgroups.js';
import { NamespaceDriver } from './namespace.js';
import { ProcessDriver } from './process.js';
import { findExecutable } from './shell.js';
import type { SandboxDriver } from './types.js';

/** Why the namespace driver cannot run here (empty when it can). */
export function namespaceBlockers(): string[] {
  const why: string[] = [];
  if (process.platform !== 'linux') return [`platform is ${process.platform}, not linux`];
  if (process.getuid?.() !== 0) why.push('server is not root');
  for (const b of ['sh', 'setpriv', 'unshare', 'mount']) if (!findExecutable(b)) why.push(`${b} not found`);
  const cg = cgroupsAvailable();
  if (!cg.ok) why.push(`cgroup v1 controllers not writable: ${cg.missing.join(', ')}`);
  if (why.length) return why;
  // The real test: can we create the namespaces and mount a tmpfs inside (fails in unprivileged containers)?
  const probe = spawnSync(findExecutable('unshare')!, ['--mount', '--pid', '--ipc', '--uts', '--fork', '--kill-child', '--mount-proc',
    findExecutable('mount')!, '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', '/tmp'], { env: {}, timeout: 5000, encoding: 'utf8' });
  if (probe.status !== 0) why.push(`unshare/mount probe failed: ${(probe.stderr || probe.error?.message || `status ${probe.status}`).trim()}`);
  return why;
}

export interface DriverChoice {
  driver: SandboxDriver;
  /** One line each: what was checked and why this driver. */
  detection: string[];
}

export async function chooseDriver(mode: 'auto' | 'namespace' | 'process', opts: ConstructorParameters<typeof NamespaceDriver>[0] = {}): Promise<DriverChoice> {
  if (mode === 'process') {
    return { driver: new ProcessDriver(['sandbox: process was configured']), detection: ['sandbox=process configured: namespace driver not tried'] };
  }
  const blockers = namespaceBlockers();
  if (blockers.length === 0) {
    const d = new NamespaceDriver(opts);
    const stale = await d.init();
    return {
      driver: d,
      detection: [`sandbox=${mode}: root, unshare, setpriv and cgroup v1 (memory, cpu, pids, freezer) available: namespace driver`,
        ...(stale ? [`removed cgroups of ${stale} stale Stratus run(s)`] : [])],
    };
  }
  if (mode === 'namespace') throw new Error(`sandbox 'namespace' requested but unavailable: ${blockers.join('; ')}`);
  return { driver: new ProcessDriver(blockers), detection: [`sandbox=auto: namespace driver unavailable (${blockers.join('; ')}): process driver`] };
}
