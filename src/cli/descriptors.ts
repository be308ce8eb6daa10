import fs from 'node:fs';

const O_CLOEXEC = 0o2000000;

/**
 * Closes the file descriptors this process inherited open and inheritable, before any execution
 * environment is started: every one of them would reach every function's processes. Node marks
 * inherited descriptors close-on-exec at start only up to the first closed one above 15, so a
 * parent that left, say, fd 200 open (a shell's `exec 200<file`, a supervisor) would hand it to
 * untrusted code. Everything node and libuv open themselves is close-on-exec already, as are the
 * descriptors node did mark; stdio and node's IPC channel (NODE_CHANNEL_FD) stay. Linux only
 * (/proc); elsewhere nothing is done. Returns the descriptors closed.
 */
export function closeInheritedDescriptors(): number[] {
  const keep = new Set([0, 1, 2]);
  const channel = Number(process.env.NODE_CHANNEL_FD);
  if (Number.isInteger(channel)) keep.add(channel);
  let names: string[];
  try {
    names = fs.readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const closed: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || keep.has(fd)) continue;
    let flags: number;
    try {
      const m = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (!m) continue;
      flags = parseInt(m[1]!, 8);
    } catch {
      continue; // the directory listing's own descriptor, gone by now
    }
    if (flags & O_CLOEXEC) continue;
    try {
      fs.closeSync(fd);
      closed.push(fd);
    } catch { /* already closed */ }
  }
  return closed;
}
