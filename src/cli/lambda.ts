import { isStratusError } from '../core/errors.js';
import { CliError } from './errors.js';
import { restJson, restRaw, seg } from './http.js';

/** The fields of Lambda's FunctionConfiguration the CLI reads (the server sends more). */
export interface FunctionConfiguration {
  FunctionName: string;
  FunctionArn: string;
  Runtime?: string;
  Role?: string;
  Handler?: string;
  CodeSize?: number;
  Description?: string;
  Timeout?: number;
  MemorySize?: number;
  LastModified?: string;
  CodeSha256?: string;
  Version?: string;
  Environment?: { Variables?: Record<string, string> };
  Layers?: Array<{ Arn: string; CodeSize?: number }>;
  State?: string;
  StateReason?: string;
  LastUpdateStatus?: string;
  LastUpdateStatusReason?: string;
  [key: string]: unknown;
}

export interface AliasConfiguration {
  AliasArn: string;
  Name: string;
  FunctionVersion: string;
  Description?: string;
  RoutingConfig?: { AdditionalVersionWeights?: Record<string, number> };
  RevisionId?: string;
}

/** Settings of CreateFunction / UpdateFunctionConfiguration the CLI sets. */
export interface FunctionSettings {
  Runtime?: string;
  Handler?: string;
  MemorySize?: number;
  Timeout?: number;
  Description?: string;
  Role?: string;
  Environment?: { Variables: Record<string, string> };
  /** Layer version ARNs, in the order they are extracted into /opt. */
  Layers?: string[];
}

export interface InvokeResult {
  statusCode: number;
  requestId?: string;
  functionError?: string;
  /** The decoded X-Amz-Log-Result (last 4 KB of the log) when LogType Tail was asked for. */
  logTail?: string;
  executedVersion?: string;
  payload: Buffer;
}

const FN = '/2015-03-31/functions';

/**
 * The Lambda REST API (botocore's lambda 2015-03-31 model: paths, shapes, headers) over fetch.
 */
export class LambdaClient {
  constructor(readonly endpoint: string) {}

  getFunctionConfiguration(name: string, qualifier?: string): Promise<FunctionConfiguration> {
    return restJson(this.endpoint, 'GET', `${FN}/${seg(name)}/configuration`, { query: { Qualifier: qualifier } });
  }

  /** GetFunctionConfiguration, or null when the function does not exist. */
  async findFunction(name: string): Promise<FunctionConfiguration | null> {
    try {
      return await this.getFunctionConfiguration(name);
    } catch (e) {
      if (isStratusError(e) && e.code === 'ResourceNotFoundException') return null;
      throw e;
    }
  }

  createFunction(name: string, zip: Buffer, settings: FunctionSettings & { Role: string }): Promise<FunctionConfiguration> {
    return restJson(this.endpoint, 'POST', FN, {
      json: { FunctionName: name, PackageType: 'Zip', Code: { ZipFile: zip.toString('base64') }, ...settings },
    });
  }

  updateFunctionCode(name: string, zip: Buffer): Promise<FunctionConfiguration> {
    return restJson(this.endpoint, 'PUT', `${FN}/${seg(name)}/code`, { json: { ZipFile: zip.toString('base64') } });
  }

  updateFunctionConfiguration(name: string, settings: FunctionSettings): Promise<FunctionConfiguration> {
    return restJson(this.endpoint, 'PUT', `${FN}/${seg(name)}/configuration`, { json: settings });
  }

  /**
   * Waits until a function has left State Pending and LastUpdateStatus InProgress (Lambda
   * creates and updates asynchronously); fails with the reason when the state is Failed.
   */
  async waitUntilReady(name: string, timeoutMs = 120_000): Promise<FunctionConfiguration> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      const c = await this.getFunctionConfiguration(name);
      if (c.State === 'Failed') throw new CliError(`function ${name} failed to become active: ${c.StateReason ?? 'no reason given'}`);
      if (c.LastUpdateStatus === 'Failed') throw new CliError(`update of function ${name} failed: ${c.LastUpdateStatusReason ?? 'no reason given'}`);
      if (c.State !== 'Pending' && c.LastUpdateStatus !== 'InProgress') return c;
      if (Date.now() > deadline) throw new CliError(`function ${name} is still ${c.State === 'Pending' ? 'Pending' : 'updating'} after ${Math.round(timeoutMs / 1000)}s`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  async invoke(name: string, opts: { payload: string | Buffer; qualifier?: string; async?: boolean; tail?: boolean }): Promise<InvokeResult> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-invocation-type': opts.async ? 'Event' : 'RequestResponse',
    };
    if (opts.tail) headers['x-amz-log-type'] = 'Tail';
    const r = await restRaw(this.endpoint, 'POST', `${FN}/${seg(name)}/invocations`, { query: { Qualifier: opts.qualifier }, raw: opts.payload, headers });
    const log = r.headers.get('x-amz-log-result');
    return {
      statusCode: r.status,
      requestId: r.headers.get('x-amzn-requestid') ?? undefined,
      functionError: r.headers.get('x-amz-function-error') ?? undefined,
      logTail: log ? Buffer.from(log, 'base64').toString('utf8') : undefined,
      executedVersion: r.headers.get('x-amz-executed-version') ?? undefined,
      payload: r.body,
    };
  }

  /** ListFunctions, following NextMarker to the end. */
  async listFunctions(): Promise<FunctionConfiguration[]> {
    const out: FunctionConfiguration[] = [];
    let marker: string | undefined;
    do {
      const page = await restJson(this.endpoint, 'GET', FN, { query: { Marker: marker, MaxItems: 50 } });
      out.push(...((page.Functions ?? []) as FunctionConfiguration[]));
      marker = page.NextMarker || undefined;
    } while (marker);
    return out;
  }

  /** DeleteFunction; returns the response's StatusCode (204). */
  async deleteFunction(name: string, qualifier?: string): Promise<number> {
    return (await restRaw(this.endpoint, 'DELETE', `${FN}/${seg(name)}`, { query: { Qualifier: qualifier } })).status;
  }

  publishVersion(name: string, description?: string): Promise<FunctionConfiguration> {
    return restJson(this.endpoint, 'POST', `${FN}/${seg(name)}/versions`, { json: description === undefined ? {} : { Description: description } });
  }

  createAlias(name: string, alias: { Name: string; FunctionVersion: string; Description?: string; RoutingConfig?: AliasConfiguration['RoutingConfig'] }): Promise<AliasConfiguration> {
    return restJson(this.endpoint, 'POST', `${FN}/${seg(name)}/aliases`, { json: alias });
  }

  updateAlias(name: string, alias: string, update: { FunctionVersion?: string; Description?: string; RoutingConfig?: AliasConfiguration['RoutingConfig'] }): Promise<AliasConfiguration> {
    return restJson(this.endpoint, 'PUT', `${FN}/${seg(name)}/aliases/${seg(alias)}`, { json: update });
  }
}
