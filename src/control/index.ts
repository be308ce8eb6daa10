import { Account } from './account.js';
import { Aliases } from './aliases.js';
import type { CodeStore } from './code.js';
import { Concurrency } from './concurrency.js';
import { ControlContext } from './context.js';
import { Functions } from './functions.js';
import { Layers } from './layers.js';
import { Policies } from './policies.js';
import { Recursion } from './recursion.js';
import { Tags } from './tags.js';
import type { ControlDeps } from './types.js';
import { Versions } from './versions.js';

export type { ControlDeps, ControlLimits, Input } from './types.js';
export type { FunctionView, VersionView } from './functions.js';
export type { AccountSettings } from './account.js';
export type { CodeStore } from './code.js';

/** The Lambda control plane: one use-case object per resource group. The domain never sees HTTP. */
export interface ControlPlane {
  functions: Functions;
  versions: Versions;
  layers: Layers;
  aliases: Aliases;
  concurrency: Concurrency;
  recursion: Recursion;
  tags: Tags;
  policies: Policies;
  account: Account;
  code: CodeStore;
}

export function createControlPlane(deps: ControlDeps): ControlPlane {
  const ctx = new ControlContext(deps);
  const versions = new Versions(ctx);
  const layers = new Layers(ctx);
  const functions = new Functions(ctx, versions, layers);
  return {
    functions,
    versions,
    layers,
    aliases: new Aliases(ctx),
    concurrency: new Concurrency(ctx),
    recursion: new Recursion(ctx),
    tags: new Tags(ctx),
    policies: new Policies(ctx, functions),
    account: new Account(ctx),
    code: ctx.code,
  };
}
