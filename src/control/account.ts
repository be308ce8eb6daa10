import { MAX_UNPACKED_BYTES, MAX_ZIP_BYTES } from '../code/index.js';
import { ControlContext } from './context.js';

export interface AccountSettings {
  limit: {
    totalCodeSize: number;
    codeSizeUnzipped: number;
    codeSizeZipped: number;
    concurrentExecutions: number;
    unreservedConcurrentExecutions: number;
  };
  usage: { totalCodeSize: number; functionCount: number };
}

/** GetAccountSettings: this server's limits and what is used of them. */
export class Account {
  constructor(private readonly ctx: ControlContext) {}

  async settings(): Promise<AccountSettings> {
    const { ctx } = this;
    const { accountConcurrency, codeStorageLimitBytes } = ctx.deps.config;
    const [reserved, functionCount, totalCodeSize] = await Promise.all([
      ctx.store.totalReserved(), ctx.store.countFunctions(), ctx.deps.blobs.totalSize(),
    ]);
    return {
      limit: {
        totalCodeSize: codeStorageLimitBytes,
        codeSizeUnzipped: MAX_UNPACKED_BYTES,
        codeSizeZipped: MAX_ZIP_BYTES,
        concurrentExecutions: accountConcurrency,
        unreservedConcurrentExecutions: Math.max(0, accountConcurrency - reserved),
      },
      usage: { totalCodeSize, functionCount },
    };
  }
}
