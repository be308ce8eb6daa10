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
    // Every version's package and every layer version's archive, as Lambda counts its code
    // storage (the same zip in two functions counts twice; Stratus stores it once).
    const [reserved, functionCount, versionsSize, layersSize] = await Promise.all([
      ctx.store.totalReserved(), ctx.store.countFunctions(), ctx.store.totalCodeSize(), ctx.deps.layers.totalCodeSize(),
    ]);
    const totalCodeSize = versionsSize + layersSize;
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
