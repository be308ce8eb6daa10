import type { ChildProcess } from 'node:child_process';

/** Resource limits of one environment (what the function's configuration asks for). */
export interface SandboxLimits {
  memoryMB: number;
  /** Size of the private /tmp. */
  ephemeralMB: number;
}

export interface LaunchSpec {
  envId: string;
  /** Program and arguments run inside the sandbox. */
  command: string[];
  /** The program's whole environment (nothing else is inherited). */
  env: Record<string, string>;
  limits: SandboxLimits;
  /**
   * When set, the sandbox drops to the environment's uid before running `command` (custom
   * runtimes). When unset, the command starts with the sandbox's privileges and drops them
   * itself on assignment (the shipped runtimes; see the start-up protocol).
   */
  dropPrivileges: boolean;
  /**
   * The command is a runtime Stratus ships (its interpreter's installation stays visible where the
   * sandbox hides the directory it is in), not a function's own bootstrap. Default: !dropPrivileges.
   */
  shipped?: boolean;
  /**
   * A shipped runtime's interpreter (a host path) when the command is not it: a wrapper script
   * (AWS_LAMBDA_EXEC_WRAPPER) that starts it. Default: command[0].
   */
  interpreter?: string;
  /** Supplementary groups when dropPrivileges (the code dir's gid). */
  groups: number[];
  /** Host directories that must stay visible inside (code root, runtimes). */
  keepPaths: string[];
  /**
   * A shipped runtime's directory (a host path), presented read-only at the driver's runtime
   * root (SandboxDriver.runtimeRoot) where it has one.
   */
  runtimeDir?: string;
  /** Working directory of the command (custom runtimes start in the task root). */
  cwd?: string;
  /**
   * The function's code dir (a host path), when known at launch: presented at the driver's task
   * root (SandboxDriver.taskRoot). A pooled runtime gets it later (SandboxHandle.presentCode).
   */
  code?: string;
  /**
   * The function's layers merged into one dir (a host path), when it has any: presented at the
   * driver's layers root (SandboxDriver.optRoot) at launch, or later with presentCode (pooled).
   */
  layers?: string;
  /** Apply the CPU limit only later (init runs at full speed, as Lambda's init boost). */
  deferCpuLimit: boolean;
  /**
   * Give the runtime a framed log descriptor (the shipped runtimes: one log event per record,
   * newlines kept, as Lambda's telemetry descriptor). Its number is the driver's `logFd`, passed
   * to the runtime as _STRATUS_LOG_FD in `env` by the caller.
   */
  framedLog?: boolean;
  /**
   * Give the runtime its own connection to the Runtime API (the shipped runtimes): one end of a
   * connected socket pair at the driver's `apiFd`, the other end the handle's `apiChannel`. No
   * listener, no socket file, no connect on a cold start, and no other process can reach it.
   */
  apiChannel?: boolean;
  /**
   * The environment this one succeeds after a reset (SandboxHandle.bequeath): its /tmp, and the
   * uid that owns the files in it, become this one's. The launch owns it from here on.
   */
  bequest?: SandboxBequest;
}

/**
 * What an environment that Lambda would reset (its invocation timed out, or its runtime died)
 * leaves its successor: Lambda keeps /tmp across a reset. Opaque, read only by the driver that
 * made it; released once, by the launch that is given it or by release().
 */
export interface SandboxBequest {
  release(): void;
}

export interface SandboxHandle {
  readonly child: ChildProcess;
  /** The framed log descriptor's read end, when launched with `framedLog`. */
  readonly logStream: import('node:stream').Readable | null;
  /** The Runtime API channel's server end, when launched with `apiChannel`. */
  readonly apiChannel: import('node:net').Socket | null;
  /** The uid/gid the environment runs (or will drop to) under; null for the process driver. */
  readonly uid: number | null;
  readonly gid: number | null;
  setLimits(limits: SandboxLimits): void;
  /** Applies the CPU share of the memory size (called once init is over). */
  applyCpuLimit(): void;
  /** Starts a new peak-memory measurement window (one invocation). */
  resetPeakMemory(): void;
  /** Peak memory in MB since the last reset. */
  peakMemoryMB(): number;
  /** True when the environment was killed for exceeding its memory. */
  oomKilled(): boolean;
  /**
   * Why the command could not be started, as Go's os/exec words it ("fork/exec <command[0]>: exec
   * format error"), from the errno its execve got; null when it started (or the driver cannot tell).
   */
  execError(): string | null;
  /** The runtime's own exit status, from what the launched process reported. */
  exitStatus(code: number | null, signal: NodeJS.Signals | null): { code: number | null; signal: NodeJS.Signals | null };
  /**
   * Presents `codeDir` at the task root (and `layersDir`, if any, at the layers root) of an
   * environment launched without `code` (a pooled runtime).
   */
  presentCode(codeDir: string, layersDir?: string): Promise<void>;
  /**
   * Sends `signal` to every process of the environment (SIGSTOP and SIGCONT freeze and resume an
   * idle one); false when the driver cannot.
   */
  signal(signal: NodeJS.Signals): boolean;
  /**
   * SIGTERM to the runtime alone, as Lambda's shutdown sends it to a function with extensions:
   * the environment's other processes (its extensions, at their SHUTDOWN) go on until it is
   * destroyed, even once the runtime has exited. Resolves when the runtime is gone, or after
   * `graceMs`.
   */
  terminateRuntime(graceMs: number): Promise<void>;
  /**
   * The host pids of the environment's processes (the Runtime API checks that a connection's socket
   * is held by one of them); empty when the driver cannot tell.
   */
  readonly members: () => number[];
  /** Kills every process of the environment and frees its resources. Idempotent. */
  destroy(): Promise<void>;
  /**
   * Kills every process of the environment as destroy() does, but keeps its /tmp for a successor
   * (LaunchSpec.bequest). Null when the driver cannot keep it, or destroy() came first.
   */
  bequeath(): Promise<SandboxBequest | null>;
  /** Whether `limits` fit how this sandbox was launched (e.g. /tmp size, kept paths). */
  fits(limits: SandboxLimits, paths: string[]): boolean;
}

export interface SandboxDescription {
  driver: string;
  isolation: string[];
  warnings: string[];
}

export interface SandboxDriver {
  readonly name: 'namespace' | 'process';
  /** True when connections to the Runtime API can be checked against the env's uid. */
  readonly verifiesPeers: boolean;
  /** The descriptor number a runtime launched with `framedLog` finds its framed log pipe at. */
  readonly logFd: number;
  /** The descriptor number a runtime launched with `apiChannel` finds its Runtime API connection at. */
  readonly apiFd: number;
  describe(): SandboxDescription;
  /**
   * Where an environment finds the code of `codeDir` (a host path): /var/task where the driver
   * can present it there, else the path itself.
   */
  taskRoot(codeDir: string): string;
  /**
   * Where an environment finds the merged layers of `layersDir` (a host path; none: where they
   * would be): /opt, as in Lambda, where the driver can present them there, else the path itself.
   */
  optRoot(layersDir?: string): string;
  /**
   * Where environments find a shipped runtime's directory (LaunchSpec.runtimeDir): /var/runtime,
   * Lambda's LAMBDA_RUNTIME_DIR, where the driver presents it there; null when it does not (the
   * runtime then runs from its host path).
   */
  runtimeRoot(): string | null;
  launch(spec: LaunchSpec): SandboxHandle;
  stop(): Promise<void>;
}
