/**
 * The error catalogue. Every error a client can see is a StratusError carrying the AWS
 * error name (the `code`), the HTTP status and the message. The wire layer (api/) turns it
 * into the service's shape; the domain never builds HTTP responses itself.
 */
export class StratusError extends Error {
  constructor(
    /** AWS error name, e.g. ResourceNotFoundException. */
    readonly code: string,
    /** HTTP status code. */
    readonly status: number,
    message: string,
    /** Extra top-level fields of the error body (e.g. Reason for throttles). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = code;
  }
}

export function isStratusError(e: unknown): e is StratusError {
  return e instanceof StratusError;
}

const make = (code: string, status: number) => (message: string, extra?: Record<string, unknown>) =>
  new StratusError(code, status, message, extra);

/** Lambda (and shared) control-plane errors. */
export const Errors = {
  resourceNotFound: make('ResourceNotFoundException', 404),
  resourceConflict: make('ResourceConflictException', 409),
  provisionedConcurrencyConfigNotFound: make('ProvisionedConcurrencyConfigNotFoundException', 404),
  resourceInUse: make('ResourceInUseException', 400),
  invalidParameter: make('InvalidParameterValueException', 400),
  preconditionFailed: make('PreconditionFailedException', 412),
  requestTooLarge: make('RequestEntityTooLargeException', 413),
  codeStorageExceeded: make('CodeStorageExceededException', 400),
  unsupportedMediaType: make('UnsupportedMediaTypeException', 415),
  invalidRequestContent: make('InvalidRequestContentException', 400),
  invalidRuntime: make('InvalidRuntimeException', 502),
  policyLengthExceeded: make('PolicyLengthExceededException', 400),
  service: make('ServiceException', 500),
  /** Validation errors as the AWS query/JSON services name them (logs, sqs, events...). */
  validation: make('ValidationException', 400),
  /** Lambda's recursive loop detection stopped the invocation (Type: User, as its model has it). */
  recursiveInvocation(message: string) {
    return new StratusError('RecursiveInvocationException', 400, message, { Type: 'User' });
  },
  tooManyRequests(message: string, reason: ThrottleReason) {
    return new StratusError('TooManyRequestsException', 429, message, { Reason: reason, retryAfterSeconds: '1' });
  },
  notImplemented(message: string) {
    return new StratusError('NotImplementedException', 501, message);
  },
};

export type ThrottleReason =
  | 'ConcurrentInvocationLimitExceeded'
  | 'ReservedFunctionConcurrentInvocationLimitExceeded'
  | 'FunctionInvocationRateLimitExceeded'
  | 'CallerRateLimitExceeded';

/**
 * Function and runtime error types exactly as Lambda names them. These are not API errors:
 * they are reported in the invocation result (X-Amz-Function-Error) and in the payload.
 */
export const FunctionErrorTypes = {
  timedOut: 'Sandbox.Timedout',
  exit: 'Runtime.ExitError',
  outOfMemory: 'Runtime.OutOfMemory',
  importModule: 'Runtime.ImportModuleError',
  handlerNotFound: 'Runtime.HandlerNotFound',
  syntax: 'Runtime.UserCodeSyntaxError',
  invalidEntrypoint: 'Runtime.InvalidEntrypoint',
  responseTooLarge: 'Function.ResponseSizeTooLarge',
  invalidResponseMode: 'Runtime.InvalidResponseModeHeader',
  truncatedResponse: 'Runtime.TruncatedResponse',
  unknown: 'Runtime.Unknown',
} as const;
