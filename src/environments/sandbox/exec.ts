import { spawnSync, type IOType } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openUnlinked, removeStale } from './shell.js';

/**
 * How a sandbox starts the program it runs: through the exec shim, a tiny static executable that
 * makes exactly one execve(2) of its first argument (with the rest as its argv, argv[0] the path,
 * as Go's os/exec starts Lambda's bootstrap) and, when the kernel refuses, writes the errno to
 * EXEC_REPORT_FD and exits 127.
 *
 * It exists because the tools the sandbox is built from start programs with glibc's execvp, which
 * on ENOEXEC runs the file with /bin/sh instead: a bootstrap without a `#!` line would run as a
 * shell script, and what was refused shows up as the exit status of setpriv or a shell (126, 127)
 * and their messages. Lambda reports those as Runtime.InvalidEntrypoint, "fork/exec <path>: exec
 * format error" (or "no such file or directory" for a `#!` interpreter that does not exist). The
 * kernel's own answer, read back from the report descriptor, is what a handle's execError() gives.
 *
 * The report descriptor (and the descriptors a sandbox passes the shim itself at, SHIM_FD, and
 * the environment at, ENV_FD) is marked close-on-exec by the shim before its execve: a program
 * that starts never has any of them.
 */
export const EXEC_REPORT_FD = 12;
/** Where the namespace driver hands the shim to setpriv (it runs it as /proc/self/fd/13). */
export const SHIM_FD = 13;
/**
 * Where a sandbox may hand the shim the environment to start the program with (NUL-terminated
 * "K=V" entries from offset 0, as /proc/<pid>/environ holds them): the namespace driver's custom
 * runtimes get theirs so, never through the root processes of their launch. Empty or absent: the
 * shim's own environment. Closed on exec by the shim too.
 */
export const ENV_FD = 14;

/**
 * The shim's machine code, per architecture, assembled (llvm-mc) from the source beside it. Both
 * do the same, in Linux's system-call numbers of their architecture:
 *
 *   fcntl(EXEC_REPORT_FD, F_SETFD, FD_CLOEXEC); fcntl(SHIM_FD, ...); fcntl(ENV_FD, ...)
 *   close_range(ENV_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC)   (what else the server inherited: never the program's)
 *   envp = &argv[argc + 1]
 *   buf = mmap(2 MiB); n = pread(ENV_FD, buf, 256 KiB, 0)
 *   if n > 0: envp = the NUL-terminated "K=V" entries of buf[0..n)   (ENV_FD: the environment to start with)
 *   execve(argv[1], &argv[1], envp)
 *   errno = -result; write(EXEC_REPORT_FD, &errno, 4); exit_group(127)
 */
const CODE: Partial<Record<NodeJS.Architecture, { machine: number; code: string }>> = {
  // x86-64 (EM_X86_64), Intel syntax:
  //   mov edi, 12; mov esi, 2; mov edx, 1; mov eax, 72 (fcntl); syscall      (and for 13, 14)
  //   mov edi, 15; mov esi, -1; mov edx, 4; mov eax, 436 (close_range); syscall
  //   mov rcx, [rsp]; lea r13, [rsp+16]; lea r12, [r13+rcx*8]
  //   xor edi, edi; mov esi, 0x200000; mov edx, 3; mov r10d, 0x22; mov r8, -1; xor r9d, r9d; mov eax, 9 (mmap); syscall
  //   cmp rax, -4096; jae run; mov r14, rax
  //   mov edi, 14; mov rsi, r14; mov edx, 0x40000; xor r10d, r10d; mov eax, 17 (pread64); syscall
  //   test rax, rax; jle run
  //   lea r15, [r14+0x40000]; mov rbx, r15; mov rdi, r14; xor ecx, ecx
  // scan: cmp rcx, rax; jae done; cmp byte ptr [r14+rcx], 0; jne next
  //   mov [r15], rdi; add r15, 8; lea rdi, [r14+rcx+1]
  // next: inc rcx; jmp scan
  // done: mov qword ptr [r15], 0; mov r12, rbx
  // run: mov rdi, [r13]; mov rsi, r13; mov rdx, r12; mov eax, 59 (execve); syscall
  //   neg eax; push rax; mov edi, 12; mov rsi, rsp; mov edx, 4; mov eax, 1 (write); syscall
  //   mov edi, 127; mov eax, 231 (exit_group); syscall
  x64: {
    machine: 62,
    code: 'bf0c000000be02000000ba01000000b8480000000f05bf0d000000be02000000ba01000000b8480000000f05'
      + 'bf0e000000be02000000ba01000000b8480000000f05bf0f000000beffffffffba04000000b8b40100000f05'
      + '488b0c244c8d6c24104d8d64cd0031ffbe00002000ba0300000041ba2200000049c7c0ffffffff4531c9b809'
      + '0000000f05483d00f0ffff73554989c6bf0e0000004c89f6ba000004004531d2b8110000000f054885c07e36'
      + '4d8dbe000004004c89fb4c89f731c94839c1731841803c0e00750c49893f4983c708498d7c0e0148ffc1ebe3'
      + '49c707000000004989dc498b7d004c89ee4c89e2b83b0000000f05f7d850bf0c0000004889e6ba04000000b8'
      + '010000000f05bf7f000000b8e70000000f05',
  },
  // AArch64 (EM_AARCH64):
  //   mov x0, #12; mov x1, #2; mov x2, #1; mov x8, #25 (fcntl); svc #0      (and for 13, 14)
  //   mov x0, #15; mov w1, #-1; mov x2, #4; mov x8, #436 (close_range); svc #0
  //   ldr x3, [sp]; add x19, sp, #16; add x20, x19, x3, lsl #3
  //   mov x0, #0; mov x1, #0x200000; mov x2, #3; mov x3, #0x22; mov x4, #-1; mov x5, #0; mov x8, #222 (mmap); svc #0
  //   cmn x0, #4096; b.hs run; mov x21, x0
  //   mov x0, #14; mov x1, x21; mov x2, #0x40000; mov x3, #0; mov x8, #67 (pread64); svc #0
  //   cmp x0, #0; b.le run
  //   add x22, x21, #0x40000; mov x23, x22; mov x24, x21; mov x25, #0
  // scan: cmp x25, x0; b.hs done; ldrb w26, [x21, x25]; cbnz w26, next
  //   str x24, [x22], #8; add x24, x21, x25; add x24, x24, #1
  // next: add x25, x25, #1; b scan
  // done: str xzr, [x22]; mov x20, x23
  // run: ldr x0, [x19]; mov x1, x19; mov x2, x20; mov x8, #221 (execve); svc #0
  //   neg x0, x0; str x0, [sp, #-16]!; mov x1, sp; mov x0, #12; mov x2, #4; mov x8, #64 (write); svc #0
  //   mov x0, #127; mov x8, #94 (exit_group); svc #0
  arm64: {
    machine: 183,
    code: '800180d2410080d2220080d2280380d2010000d4a00180d2410080d2220080d2280380d2010000d4c00180d2'
      + '410080d2220080d2280380d2010000d4e00180d201008012820080d2883680d2010000d4e30340f9f3430091'
      + '740e038b000080d20104a0d2620080d2430480d204008092050080d2c81b80d2010000d41f0440b122030054'
      + 'f50300aac00180d2e10315aa8200a0d2030080d2680880d2010000d41f0000f10d020054b6024191f70316aa'
      + 'f80315aa190080d23f0300eb02010054ba6a79389a000035d88600f8b802198b1807009139070091f8ffff17'
      + 'df0200f9f40317aa600240f9e10313aae20314aaa81b80d2010000d4e00300cbe00f1ff8e1030091800180d2'
      + '820080d2080880d2010000d4e00f80d2c80b80d2010000d4',
  },
};

/** A static ELF executable of one loadable segment: the header, one program header, the code. */
export function shimExecutable(arch: string = process.arch): Buffer | null {
  const c = CODE[arch as NodeJS.Architecture];
  if (!c) return null;
  const code = Buffer.from(c.code, 'hex');
  const base = 0x400000;
  const head = 64 + 56;
  const size = head + code.length;
  const b = Buffer.alloc(size);
  b.write('\x7fELF', 0, 'latin1');
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little-endian
  b[6] = 1; // EV_CURRENT
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(c.machine, 18);
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(BigInt(base + head), 24); // entry: the code, right after the headers
  b.writeBigUInt64LE(64n, 32); // program headers at 64
  b.writeUInt16LE(64, 52); // header size
  b.writeUInt16LE(56, 54); // program header size
  b.writeUInt16LE(1, 56); // one program header
  b.writeUInt32LE(1, 64); // PT_LOAD
  b.writeUInt32LE(5, 68); // PF_R | PF_X
  b.writeBigUInt64LE(0n, 72); // from file offset 0
  b.writeBigUInt64LE(BigInt(base), 80);
  b.writeBigUInt64LE(BigInt(base), 88);
  b.writeBigUInt64LE(BigInt(size), 96);
  b.writeBigUInt64LE(BigInt(size), 104);
  b.writeBigUInt64LE(0x10000n, 112); // 64 KiB: fits 4, 16 and 64 KiB pages
  code.copy(b, head);
  return b;
}

/**
 * An fd of an empty regular file, readable and writable, whose name is already gone: where a
 * launch's exec shim reports a refused execve. Read with readExecReport; the caller closes it.
 */
export function openExecReport(): number {
  return openUnlinked('exec');
}

const reportBuf = Buffer.alloc(4);

/** The errno the shim reported on `fd` (openExecReport), or null when it reported nothing. */
export function readExecReport(fd: number): number | null {
  try {
    const n = fs.readSync(fd, reportBuf, 0, 4, 0);
    return n === 4 ? reportBuf.readUInt32LE(0) : null;
  } catch {
    return null;
  }
}

const E = os.constants.errno;
/**
 * What Go prints for the errors execve(2) returns (its syscall.Errno texts on Linux), as Lambda's
 * "fork/exec <path>: <text>" does.
 */
const GO_ERRNO_TEXT: ReadonlyMap<number, string> = new Map([
  [E.EPERM, 'operation not permitted'],
  [E.ENOENT, 'no such file or directory'],
  [E.EIO, 'input/output error'],
  [E.E2BIG, 'argument list too long'],
  [E.ENOEXEC, 'exec format error'],
  [E.ENOMEM, 'cannot allocate memory'],
  [E.EACCES, 'permission denied'],
  [E.EFAULT, 'bad address'],
  [E.ENOTDIR, 'not a directory'],
  [E.EISDIR, 'is a directory'],
  [E.EINVAL, 'invalid argument'],
  [E.ENFILE, 'too many open files in system'],
  [E.EMFILE, 'too many open files'],
  [E.ETXTBSY, 'text file busy'],
  [E.ENAMETOOLONG, 'file name too long'],
  [E.ELOOP, 'too many levels of symbolic links'],
  [80 /* ELIBBAD */, 'accessing a corrupted shared library'],
]);

/** Go's error of a failed start, as Lambda's init reports it: "fork/exec /var/task/bootstrap: exec format error". */
export function execErrorText(file: string, errno: number): string {
  return `fork/exec ${file}: ${GO_ERRNO_TEXT.get(errno) ?? `errno ${errno}`}`;
}

/**
 * The shim of this host, written once per driver into a directory of its own, or null where
 * there is none (another architecture or OS, or no temporary directory that allows exec): the
 * drivers then start programs as before, through execvp.
 */
export class ExecShim {
  private constructor(readonly dir: string, readonly file: string, readonly fd: number) {}

  static install(): ExecShim | null {
    if (process.platform !== 'linux') return null;
    const bytes = shimExecutable();
    if (!bytes) return null;
    for (const base of [...new Set([os.tmpdir(), '/var/tmp', '/dev/shm', '/tmp'])]) {
      removeStale(base, 'stratus-exec');
      let dir: string | null = null;
      try {
        dir = fs.mkdtempSync(path.join(base, `stratus-exec-${process.pid}-`));
        fs.chmodSync(dir, 0o755);
        const file = path.join(dir, 'exec');
        fs.writeFileSync(file, bytes, { mode: 0o755 });
        fs.chmodSync(file, 0o755);
        if (probe(file)) return new ExecShim(dir, file, fs.openSync(file, 'r'));
      } catch { /* next */ }
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
    return null;
  }

  /**
   * Readies one launch of `file` through the shim: the shim's descriptor at SHIM_FD, a new
   * report at EXEC_REPORT_FD and /dev/null at ENV_FD in its stdio (entries up to them are 'ignore').
   */
  attach(stdio: Array<IOType | number>, file: string): ExecReport {
    const report = new ExecReport(file);
    while (stdio.length <= ENV_FD) stdio.push('ignore');
    stdio[EXEC_REPORT_FD] = report.fd!;
    stdio[SHIM_FD] = this.fd;
    // /dev/null unless the sandbox hands an environment there: never a descriptor the server inherited.
    stdio[ENV_FD] = 'ignore';
    return report;
  }

  remove(): void {
    try { fs.closeSync(this.fd); } catch { /* closed */ }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What a driver without a shim says (`execvp`: whose execvp starts the command there). */
export function noShimWarning(execvp: string): string {
  return `no exec shim for ${process.arch}: a custom runtime's bootstrap starts through ${execvp}, `
    + 'which runs one the kernel refuses (no #! line) with /bin/sh instead of failing with Runtime.InvalidEntrypoint';
}

/**
 * One launch's exec report (openExecReport): what the kernel refused, read once and kept, so
 * that it is still known after the descriptor is closed with the handle.
 */
export class ExecReport {
  fd: number | null = openExecReport();
  private errno: number | null = null;

  constructor(private readonly file: string) {}

  /** Why `file` could not be started, in Go's words (execErrorText); null when it started. */
  error(): string | null {
    if (this.fd !== null && this.errno === null) this.errno = readExecReport(this.fd);
    return this.errno === null ? null : execErrorText(this.file, this.errno);
  }

  /** Reads the report, then closes its descriptor. Idempotent. */
  close(): void {
    this.error();
    if (this.fd !== null) { fs.closeSync(this.fd); this.fd = null; }
  }
}

/** Whether the shim runs here and reports what the kernel says: ENOENT for a path that does not exist. */
function probe(file: string): boolean {
  const report = openExecReport();
  try {
    const stdio: Array<'ignore' | number> = Array.from({ length: EXEC_REPORT_FD }, () => 'ignore' as const);
    stdio.push(report);
    const r = spawnSync(file, [path.join(path.dirname(file), 'missing')], { stdio, env: {}, timeout: 5000 });
    return r.status === 127 && readExecReport(report) === E.ENOENT;
  } finally {
    fs.closeSync(report);
  }
}
