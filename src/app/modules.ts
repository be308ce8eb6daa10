import type { StratusModule } from './module.js';

/** Feature modules, in start order. Each plugs in through ModuleContext (module.ts). */
export function featureModules(): StratusModule[] {
  return [];
}
