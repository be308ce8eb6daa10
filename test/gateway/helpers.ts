import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CreateFunctionCommand, GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createStratus } from '../../src/app/index.js';
import type { StratusConfig } from '../../src/app/config.js';
import type { StratusModule } from '../../src/app/module.js';
import { featureModules } from '../../src/app/modules.js';
import { gatewayModule } from '../../src/triggers/gateway/index.js';
import { functionUrlsModule } from '../../src/triggers/urls/index.js';
import type { TestServer } from '../helpers/server.js';
import { makeZip } from '../helpers/zip.js';

export const ROLE = 'arn:aws:iam::000000000000:role/test';
export const fnArn = (name: string, q?: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}${q ? `:${q}` : ''}`;

/** The feature modules, with the gateway and function URL modules added if the root does not list them yet. */
export function modulesWithGateway(): StratusModule[] {
  const mods = featureModules();
  if (!mods.some((m) => m.name === 'gateway')) mods.push(gatewayModule());
  if (!mods.some((m) => m.name === 'function-urls')) mods.push(functionUrlsModule());
  return mods;
}

export async function startGatewayServer(overrides: Partial<StratusConfig> = {}): Promise<TestServer & { port: number }> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-test-'));
  const stratus = await createStratus(
    { port: 0, host: '127.0.0.1', prewarmPerRuntime: 0, idleTimeoutMs: 60_000, ...overrides, dataDir },
    modulesWithGateway(),
  );
  const { url } = await stratus.start();
  return {
    endpoint: url,
    port: Number(new URL(url).port),
    dataDir,
    stratus,
    async stop(opts) {
      await stratus.stop();
      if (!opts?.keepData && !overrides.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
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
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
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
