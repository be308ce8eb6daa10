import type { FastifyInstance } from 'fastify';
import type { JsonTargetRouter } from '../api/json-target.js';
import type { Locale } from '../core/model.js';
import type { AsyncInvokeQueue, Invoker } from '../invoke/types.js';
import type {
  BlobStore, ChangeFeed, Clock, ControlSnapshot, ExecutionService, FunctionStore, LogSink, LogStore, NoticeChannel, SqlDatabase, TagKeepers, TargetDispatcher,
} from '../ports/index.js';
import type { StratusConfig } from './config.js';

/**
 * What every feature module receives from the composition root. A module registers its HTTP
 * routes (Lambda REST paths, other services' paths), its AWS JSON targets, and its background
 * workers; it reaches the invoke pipeline only through `invoker`.
 */
export interface ModuleContext {
  config: StratusConfig;
  locale: Locale;
  clock: Clock;
  sql: SqlDatabase;
  blobs: BlobStore;
  changes: ChangeFeed;
  /** Best-effort hints to the cluster's other nodes (nothing on a single node). */
  notices: NoticeChannel;
  functions: FunctionStore;
  snapshot: ControlSnapshot;
  logStore: LogStore;
  logSink: LogSink;
  execution: ExecutionService;
  http: FastifyInstance;
  jsonTargets: JsonTargetRouter;
  invoker: Invoker;
  /** Admission: a function's provisioned concurrency, per allocation, is set here (the provisioned concurrency module). */
  leases: { setProvisioned(functionName: string, counts: ReadonlyMap<string, number>, reserved: boolean): void };
  /** Delivery to ARNs (queues, functions, buses): modules register what they serve. */
  targets: TargetDispatcher;
  /** Tags of resources other than functions (TagResource, ListTags): modules register the resources they keep. */
  tagKeepers: TagKeepers;
  /** The async engine registers itself here; until then Event invocations are refused honestly. */
  setAsyncQueue(queue: AsyncInvokeQueue): void;
  /** Base URL clients reach this server at (http://host:port), known once listening. */
  baseUrl(): string;
}

export interface StratusModule {
  name: string;
  /** Register routes, targets and workers. Called before the server listens. */
  init(ctx: ModuleContext): Promise<void> | void;
  /** Start background work (pollers, schedulers) once the server listens. */
  start?(): Promise<void> | void;
  /** Stop background work; called in reverse order on shutdown. */
  stop?(): Promise<void> | void;
  /**
   * Called in reverse order once every module has stopped and the execution environments are
   * stopped (nothing runs on this node any more), before the stores close: work a stop cut off
   * while it was still running here can be handed to another node now.
   */
  afterExecutionStop?(): Promise<void> | void;
}
