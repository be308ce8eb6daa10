/**
 * Domain records of the control plane. Plain data, no behaviour: the store persists them,
 * the control plane validates and changes them, the data plane runs from a snapshot of them.
 */

export const LATEST = '$LATEST';

/** Where Stratus is: region and account used in every ARN. */
export interface Locale {
  region: string;
  accountId: string;
}

/** Configuration of one version of a function (what $LATEST holds, and what a publish freezes). */
export interface FunctionConfig {
  runtime: string | null; // null only for container images, which Stratus does not run
  handler: string | null;
  role: string;
  memorySize: number; // MB, 128..10240
  timeout: number; // seconds, 1..900
  description: string;
  environment: Record<string, string>;
  ephemeralStorage: number; // MB, 512..10240
  architectures: string[]; // ['x86_64'] | ['arm64']
  packageType: 'Zip';
  deadLetterTargetArn: string | null;
  tracingMode: 'PassThrough' | 'Active';
  /** Layer versions, in the order they are extracted into /opt (later ones win). */
  layers: LayerRef[];
  loggingConfig: { logFormat: 'Text' | 'JSON'; logGroup: string | null; applicationLogLevel?: string; systemLogLevel?: string };
  /** SnapStart's ApplyOn; absent is 'None' (configurations stored before it have none). */
  snapStart?: 'PublishedVersions';
  /**
   * The customer managed key its environment variables are said to be encrypted with
   * (KMSKeyArn): kept and returned; Stratus encrypts nothing with it. Absent: none.
   */
  kmsKeyArn?: string;
  /**
   * TenancyConfig's TenantIsolationMode: set on CreateFunction only ("Tenant isolation
   * configuration cannot be modified after function creation"). Absent: no tenant isolation.
   */
  tenancy?: 'PER_TENANT';
}

/**
 * A layer version a function uses: its ARN and its archive, captured when the configuration
 * names it (a layer version never changes, and a function keeps working after it is deleted).
 */
export interface LayerRef {
  arn: string;
  /** Hex sha256 of the layer's zip: the blob store key. */
  codeKey: string;
  codeSize: number;
  /** What its archive unpacks to: counted with the function's code against Lambda's 250 MB. */
  unpackedSize: number;
}

/** One version of a layer (PublishLayerVersion): immutable but for its permissions. */
export interface LayerVersionRecord {
  layerName: string;
  version: number;
  description: string;
  createdDate: string; // Lambda's format: 2026-11-22T10:00:00.000+0000
  /** Null when the publisher named none (Lambda then leaves them out); [] when it named an empty list. */
  compatibleRuntimes: string[] | null;
  compatibleArchitectures: string[] | null;
  licenseInfo: string | null;
  codeSha256: string;
  codeKey: string;
  codeSize: number;
  unpackedSize: number;
  /** AddLayerVersionPermission statements; null before the first. */
  policy: LayerPolicy | null;
}

/**
 * A function's resource-based policy for one qualifier (AddPermission): its statements as IAM
 * policy statements (Sid, Effect, Principal, Action, Resource, Condition), in the order added.
 */
export interface FunctionPolicy {
  /** The revision its owner ($LATEST, the version or the alias) got when it was written; the owner's current one is the policy's. */
  revisionId: string;
  statements: Array<Record<string, unknown>>;
}

export interface LayerPolicy {
  revisionId: string;
  statements: LayerStatement[];
}

export interface LayerStatement {
  sid: string;
  action: string;
  principal: string;
  organizationId?: string;
}

/** One version of a function: $LATEST (mutable) or a published number (immutable). */
export interface VersionRecord {
  functionName: string;
  version: string; // '$LATEST' or '1', '2', ...
  config: FunctionConfig;
  /** base64 sha256 of the zip, as Lambda reports CodeSha256. */
  codeSha256: string;
  /** hex sha256 of the zip: the blob store key. */
  codeKey: string;
  codeSize: number;
  revisionId: string;
  lastModified: string; // Lambda's format: 2026-11-22T10:00:00.000+0000
  state: 'Pending' | 'Active' | 'Inactive' | 'Failed';
  stateReason: string | null;
  stateReasonCode: string | null;
  lastUpdateStatus: 'Successful' | 'Failed' | 'InProgress';
  lastUpdateStatusReason: string | null;
  lastUpdateStatusReasonCode: string | null;
}

/** The function itself: what is shared by all its versions. */
export interface FunctionRecord {
  name: string;
  createdAt: string; // ISO-8601
  tags: Record<string, string>;
  /** Reserved concurrency (PutFunctionConcurrency), null when not set. */
  reservedConcurrency: number | null;
  /** PutFunctionRecursionConfig's RecursiveLoop (Lambda's default: Terminate). */
  recursiveLoop: RecursiveLoop;
  /** Highest version number published so far (numbers are never reused). */
  lastVersion: number;
}

/** What Lambda does with a function found invoked in a recursive loop (Get/PutFunctionRecursionConfig). */
export type RecursiveLoop = 'Allow' | 'Terminate';
export const RECURSIVE_LOOP_VALUES: readonly RecursiveLoop[] = ['Allow', 'Terminate'];

export interface AliasRecord {
  functionName: string;
  name: string;
  functionVersion: string;
  description: string;
  /** AdditionalVersionWeights: version -> weight in [0, 1]. */
  additionalVersionWeights: Record<string, number>;
  revisionId: string;
}

/** The control state the data plane runs from, for one function. */
export interface FunctionSnapshot {
  fn: FunctionRecord;
  versions: Map<string, VersionRecord>;
  aliases: Map<string, AliasRecord>;
}
