import http from 'node:http';
import { CreateFunctionCommand, GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { StratusConfig } from '../../src/app/config.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

export const ROLE = 'arn:aws:iam::000000000000:role/test';
export const fnArn = (name: string, q?: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}${q ? `:${q}` : ''}`;

/** startServer() (test/helpers/server.ts) plus the port, for plain HTTP requests to the gateway. */
export async function startGatewayServer(overrides: Partial<StratusConfig> = {}): Promise<TestServer & { port: number }> {
  const server = await startServer(overrides);
  return Object.assign(server, { port: Number(new URL(server.endpoint).port) });
}

export async function createNodeFunction(lambda: LambdaClient, name: string, code: string, opts: { timeout?: number } = {}): Promise<void> {
  await lambda.send(new CreateFunctionCommand({
    FunctionName: name,
    Runtime: 'nodejs20.x',
    Handler: 'index.handler',
    Role: ROLE,
    Timeout: opts.timeout ?? 30,
    MemorySize: 256,
    Code: { ZipFile: await makeZip({ 'index.mjs': code }) },
  }));
  for (let i = 0; i < 200; i++) {
    const f = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    if (f.Configuration?.State === 'Active') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`function ${name} did not become Active`);
}

export interface RawResponse {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

/** A plain HTTP request to 127.0.0.1:port (any Host header, repeated headers via rawHeaders). */
export function request(opts: {
  port: number;
  path: string;
  method?: string;
  host?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...(opts.headers ?? {}) };
    if (opts.host) headers.host = opts.host;
    const req = http.request({ host: '127.0.0.1', port: opts.port, path: opts.path, method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, statusMessage: res.statusMessage ?? '', headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(120_000, () => req.destroy(new Error('request timed out')));
    req.end(opts.body);
  });
}

export const json = (r: RawResponse) => JSON.parse(r.body.toString('utf8'));

/** Returns the event it received (payload 2.0 inference: a bare object becomes the body). */
export const ECHO = `export const handler = async (event) => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });\n`;
