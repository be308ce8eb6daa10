/**
 * Tags of a taggable resource other than a function (an event source mapping): the module that
 * keeps the resource keeps its tags, and registers itself for the resource's type, the part of
 * its ARN after the account (`event-source-mapping`). TagResource, UntagResource and ListTags
 * reach it through the control plane, which validates the request and the tags themselves.
 */
export interface TagKeeper {
  /** The resource's tags; throws ResourceNotFoundException when there is no such resource. */
  get(arn: string): Promise<Record<string, string>>;
  /** Replaces the resource's tags with what `change` makes of them (what `change` throws leaves them). */
  update(arn: string, change: (tags: Record<string, string>) => Record<string, string>): Promise<void>;
}

export interface TagKeepers {
  register(resourceType: string, keeper: TagKeeper): void;
}
