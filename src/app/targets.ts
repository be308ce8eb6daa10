import { Errors } from '../core/errors.js';
import type { TargetDeliver, TargetDispatcher, TargetMessage } from '../ports/index.js';

/** Routes deliveries by the ARN's service part to the module that registered it. */
export class ArnTargetDispatcher implements TargetDispatcher {
  private readonly byService = new Map<string, TargetDeliver>();

  register(service: string, deliver: TargetDeliver): void {
    this.byService.set(service, deliver);
  }

  serves(arn: string): boolean {
    return this.byService.has(serviceOf(arn) ?? '');
  }

  async deliver(arn: string, message: TargetMessage): Promise<void> {
    const service = serviceOf(arn);
    const deliver = service ? this.byService.get(service) : undefined;
    if (!deliver) throw Errors.resourceNotFound(`No Stratus service delivers to ${arn}`);
    await deliver(arn, message);
  }
}

function serviceOf(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' && parts.length >= 6 ? parts[2] : undefined;
}
