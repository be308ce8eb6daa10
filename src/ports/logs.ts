/**
 * Log storage (CloudWatch Logs model): groups hold streams, streams hold events.
 * Writes come in batches from a buffer that is off the invoke path.
 */
export interface LogEvent {
  timestamp: number; // ms, when the line was produced
  message: string;
}

export interface StoredLogEvent extends LogEvent {
  id: number; // store-assigned, increasing in insertion order (ties of timestamp go by it)
  logStreamName: string;
  ingestionTime: number;
}

export interface LogGroupInfo {
  logGroupName: string;
  creationTime: number;
  retentionInDays: number | null;
  storedBytes: number;
  /** STANDARD (what groups made by writing to them are), INFREQUENT_ACCESS or DELIVERY: kept as given. */
  logGroupClass: string;
  /** The KMS key CreateLogGroup named, if any (nothing is encrypted with it). */
  kmsKeyId: string | null;
}

/** What CreateLogGroup may set besides the name and tags. */
export interface LogGroupSettings {
  logGroupClass?: string;
  kmsKeyId?: string;
}

export interface LogStreamInfo {
  logStreamName: string;
  creationTime: number;
  firstEventTimestamp: number | null;
  lastEventTimestamp: number | null;
  lastIngestionTime: number | null;
  storedBytes: number;
}

export interface LogQuery {
  logGroupName: string;
  logStreamNames?: string[];
  logStreamNamePrefix?: string;
  startTime?: number; // inclusive
  endTime?: number; // exclusive
  /** Plain terms: every term must appear (case-sensitive, as CloudWatch's unstructured terms). */
  terms?: string[];
  /** Continue after this position (ascending order). */
  after?: EventPosition;
  /** Descending order (GetLogEvents with startFromHead=false). */
  descending?: boolean;
  before?: EventPosition;
  limit: number;
}

/**
 * Where an event sits in what readers see: events are ordered by timestamp, as CloudWatch reads
 * them (a back-dated event goes before those that came earlier), then by id (the order they came
 * in) among events of the same millisecond.
 */
export interface EventPosition {
  timestamp: number;
  id: number;
}

/** Events for one stream, as the log buffer hands them to the store. */
export interface LogBatch {
  group: string;
  stream: string;
  events: LogEvent[];
}

export interface LogStore {
  /** Appends events to a stream, creating the group and the stream when missing. */
  append(group: string, stream: string, events: LogEvent[]): Promise<void>;
  /** Optional: appends to many streams in one transaction (what the log buffer prefers). */
  appendBatch?(batches: LogBatch[]): Promise<void>;
  createGroup(group: string, creationTime: number, tags?: Record<string, string>, settings?: LogGroupSettings): Promise<boolean>;
  createStream(group: string, stream: string, creationTime: number): Promise<boolean>;
  describeGroups(prefix: string | undefined, after: string | undefined, limit: number): Promise<LogGroupInfo[]>;
  getGroup(group: string): Promise<LogGroupInfo | undefined>;
  describeStreams(
    group: string,
    opts: { prefix?: string; orderBy: 'LogStreamName' | 'LastEventTime'; descending: boolean; offset: number; limit: number },
  ): Promise<LogStreamInfo[]>;
  query(q: LogQuery): Promise<StoredLogEvent[]>;
  deleteGroup(group: string): Promise<boolean>;
  deleteStream(group: string, stream: string): Promise<boolean>;
  putRetention(group: string, days: number | null): Promise<boolean>;
  /**
   * Retention: deletes up to `limit` of the group's events whose timestamp is before `before`,
   * oldest first, in one transaction that also takes their bytes off their streams' and the
   * group's storedBytes; resolves to how many it deleted. Safe to run on several nodes at once:
   * an event is deleted, and its bytes subtracted, once (an event another sweep holds is left
   * to it). Fewer than `limit` means none is left, or another sweep is taking the rest.
   */
  expireEvents(group: string, before: number, limit: number): Promise<number>;
  /** A group's tags; undefined when there is no such group. */
  getTags(group: string): Promise<Record<string, string> | undefined>;
  /**
   * Replaces a group's tags with what `change` makes of them, atomically (what `change` throws
   * leaves them as they were); the tags after, or undefined when there is no such group.
   */
  updateTags(group: string, change: (tags: Record<string, string>) => Record<string, string>): Promise<Record<string, string> | undefined>;
}

/**
 * Where running code's log lines go. Never blocks and never throws: implementations buffer
 * and persist off the invoke path (observe/logs).
 */
export interface LogSink {
  write(group: string, stream: string, events: LogEvent[]): void;
}
