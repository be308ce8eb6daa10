import { isNumericVersion } from '../core/arn.js';
import { Errors } from '../core/errors.js';
import { LATEST, type FunctionPolicy } from '../core/model.js';
import { rules, Violations } from '../core/validation.js';
import { checkRevision, revisionMismatch, type ControlContext } from './context.js';
import type { Functions } from './functions.js';
import { concurrentPolicyChange, ORGANIZATION, STATEMENT_ID, withoutStatement, withStatement } from './resource-policy.js';
import type { Input } from './types.js';

const ACTION = /^(lambda:[*]|lambda:[a-zA-Z]+|[*])$/;
const PRINCIPAL = /^[^\s]+$/;
/**
 * The principals Lambda takes: anyone, an account, an IAM (or STS) principal ARN, or a service
 * (s3.amazonaws.com, China's .amazonaws.com.cn, .aws.internal, Alexa's alexa-appkit.amazon.com).
 * Anything else is refused as Lambda refuses it; the check is kept wide on purpose.
 */
const VALID_PRINCIPAL = /^(\*|\d{12}|arn:aws[a-zA-Z-]*:(iam|sts)::\d{12}:.+|[a-zA-Z0-9][a-zA-Z0-9.-]*\.(amazonaws\.com|amazonaws\.com\.cn|aws\.internal|amazon\.com))$/;
const SOURCE_ARN = /^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)$/;
const SOURCE_ACCOUNT = /^\d{12}$/;
const EVENT_SOURCE_TOKEN = /^[a-zA-Z0-9._-]+$/;
const URL_AUTH_TYPES = ['NONE', 'AWS_IAM'] as const;
/** Lambda's limit on a function's policy document (PolicyLengthExceededException). */
const MAX_POLICY_BYTES = 20 * 1024;

/**
 * A function's resource-based policy: AddPermission, RemovePermission, GetPolicy, for the
 * function or one of its versions or aliases (Qualifier), with Lambda's statements, errors and
 * RevisionId precondition. Stratus authorizes no caller by it (it has no IAM): it is kept and
 * returned as Lambda keeps it, for the tools that write and read it (SAM, Terraform, CDK).
 *
 * Its RevisionId is its owner's, as Lambda's is: the function's ($LATEST's), the version's or
 * the alias's. A RevisionId given to AddPermission or RemovePermission is checked against it,
 * each change renews it (GetFunction shows the new one), and GetPolicy returns the current one.
 */
export class Policies {
  constructor(private readonly ctx: ControlContext, private readonly functions: Functions) {}

  /** The function and qualifier ('' for none) a request names; ResourceNotFound when either is missing. */
  private async target(input: Input): Promise<{ name: string; qualifier?: string; key: string }> {
    const { version, arnQualifier } = await this.functions.get({ FunctionName: input.FunctionName, Qualifier: input.Qualifier });
    return { name: version.functionName, qualifier: arnQualifier, key: arnQualifier ?? '' };
  }

  /** The RevisionId of the policy's owner: $LATEST ('' key), the version or the alias. */
  private async revisionOf(name: string, key: string, qualifier: string | undefined): Promise<string> {
    const { store } = this.ctx;
    const owner = key === '' || key === LATEST || isNumericVersion(key) ? await store.getVersion(name, key || LATEST) : await store.getAlias(name, key);
    if (!owner) throw this.ctx.notFound(name, qualifier);
    return owner.revisionId;
  }

  /**
   * Writes `change(current policy, new revision)` at the owner's revision. The owner is read
   * before the policy: a writer that slips in between moves the owner's revision, and the
   * store's compare-and-set then refuses ours.
   */
  private async write(name: string, qualifier: string | undefined, key: string, given: unknown, change: (current: FunctionPolicy | undefined, revisionId: string) => FunctionPolicy | null): Promise<FunctionPolicy | null> {
    const { ctx } = this;
    const revision = await this.revisionOf(name, key, qualifier);
    checkRevision(given, revision);
    const next = ctx.newRevision();
    const policy = change(await ctx.store.getPolicy(name, key), next);
    if (!(await ctx.store.putPolicy(name, key, policy, revision, next))) throw typeof given === 'string' ? revisionMismatch() : concurrentPolicyChange();
    await ctx.changed(name);
    return policy;
  }

  async add(input: Input): Promise<{ statement: string }> {
    const v = new Violations();
    const str = (field: string, value: unknown, re: RegExp, pattern: string, max?: number, required = false) => {
      if (value === undefined || value === null) { if (required) v.add(null, field, rules.notNull); return; }
      if (typeof value !== 'string') { v.add(value, field, rules.pattern(pattern)); return; }
      if (required && value.length === 0) v.add(value, field, rules.minLength(1));
      else if (max !== undefined && value.length > max) v.add(value, field, rules.maxLength(max));
      else if (value.length > 0 && !re.test(value)) v.add(value, field, rules.pattern(pattern));
    };
    str('statementId', input.StatementId, STATEMENT_ID, '([a-zA-Z0-9-_]+)', 100, true);
    str('action', input.Action, ACTION, '(lambda:[*]|lambda:[a-zA-Z]+|[*])', undefined, true);
    str('principal', input.Principal, PRINCIPAL, '[^\\s]+', undefined, true);
    str('sourceArn', input.SourceArn, SOURCE_ARN, 'arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)');
    str('sourceAccount', input.SourceAccount, SOURCE_ACCOUNT, '\\d{12}', 12);
    str('eventSourceToken', input.EventSourceToken, EVENT_SOURCE_TOKEN, '[a-zA-Z0-9._\\-]+', 256);
    str('principalOrgID', input.PrincipalOrgID, ORGANIZATION, 'o-[a-z0-9]{10,32}', 34);
    const authType = input.FunctionUrlAuthType;
    if (authType !== undefined && authType !== null && !URL_AUTH_TYPES.includes(authType as never)) v.add(authType, 'functionUrlAuthType', rules.enumOf(URL_AUTH_TYPES));
    v.throwIfAny();
    const { ctx } = this;
    // $LATEST has no policy of its own: the function's (no qualifier) covers it.
    if (ctx.ref(input.FunctionName, input.Qualifier, 'allow', 'NamespacedFunctionName').qualifier === LATEST) throw Errors.invalidParameter('We currently do not support adding policies for $LATEST.');
    const { name, qualifier, key } = await this.target(input);
    if (!VALID_PRINCIPAL.test(input.Principal as string)) throw Errors.invalidParameter('The provided principal was invalid. Please check the principal and try again.');
    return ctx.lock.run(name, async () => {
      const policy = (await this.write(name, qualifier, key, input.RevisionId, (current, revisionId) => {
        const next: FunctionPolicy = withStatement(current, input.StatementId as string, (s) => s.Sid, () => this.statement(input, ctx.arn(name, qualifier)), revisionId);
        const size = Buffer.byteLength(JSON.stringify(document(next)));
        if (size > MAX_POLICY_BYTES) throw Errors.policyLengthExceeded(`The final policy size (${size}) is bigger than the limit (${MAX_POLICY_BYTES}).`);
        return next;
      }))!;
      return { statement: JSON.stringify(policy.statements[policy.statements.length - 1]) };
    });
  }

  async remove(input: Input): Promise<void> {
    const { ctx } = this;
    const { name, qualifier, key } = await this.target(input);
    await ctx.lock.run(name, async () => {
      await this.write(name, qualifier, key, input.RevisionId, (current, revisionId) => {
        if (!current) throw Errors.resourceNotFound('No policy is associated with the given resource.');
        return withoutStatement(current, input.StatementId, (s) => s.Sid, revisionId);
      });
    });
  }

  /** GetPolicy: a version or alias that is not there has no policy either (Lambda says so, not "Function not found"). */
  async get(input: Input): Promise<{ policy: string; revisionId: string }> {
    const { ctx } = this;
    const { name, qualifier } = ctx.ref(input.FunctionName, input.Qualifier, 'allow', 'NamespacedFunctionName');
    await ctx.requireFunction(name);
    const key = qualifier ?? '';
    const current = await ctx.store.getPolicy(name, key);
    if (!current) throw Errors.resourceNotFound('The resource you requested does not exist.');
    return { policy: JSON.stringify(document(current)), revisionId: await this.revisionOf(name, key, qualifier) };
  }

  /** The IAM statement Lambda writes for an AddPermission request. */
  private statement(input: Input, resource: string): Record<string, unknown> {
    const p = input.Principal as string;
    const principal = p === '*' ? '*'
      : /^\d{12}$/.test(p) ? { AWS: `arn:aws:iam::${p}:root` }
      : p.startsWith('arn:') ? { AWS: p }
      : { Service: p };
    const equals: Record<string, unknown> = {};
    if (typeof input.SourceAccount === 'string' && input.SourceAccount) equals['AWS:SourceAccount'] = input.SourceAccount;
    if (typeof input.PrincipalOrgID === 'string') equals['aws:PrincipalOrgID'] = input.PrincipalOrgID;
    if (typeof input.EventSourceToken === 'string' && input.EventSourceToken) equals['lambda:EventSourceToken'] = input.EventSourceToken;
    if (typeof input.FunctionUrlAuthType === 'string') equals['lambda:FunctionUrlAuthType'] = input.FunctionUrlAuthType;
    if (input.InvokedViaFunctionUrl === true) equals['lambda:InvokedViaFunctionUrl'] = 'true';
    const condition: Record<string, unknown> = {};
    if (Object.keys(equals).length) condition.StringEquals = equals;
    if (typeof input.SourceArn === 'string') condition.ArnLike = { 'AWS:SourceArn': input.SourceArn };
    return {
      Sid: input.StatementId, Effect: 'Allow', Principal: principal, Action: input.Action, Resource: resource,
      ...(Object.keys(condition).length ? { Condition: condition } : {}),
    };
  }
}

function document(policy: FunctionPolicy): Record<string, unknown> {
  return { Version: '2012-10-17', Id: 'default', Statement: policy.statements };
}
