import type { CorsConfig } from '../../core/gateway-cors.js';

/** Resources of an HTTP API, stored and returned in the API Gateway v2 wire's field names. */
export interface ApiSpec {
  apiId: string;
  name: string;
  protocolType: 'HTTP';
  apiEndpoint?: string;
  apiKeySelectionExpression: string;
  routeSelectionExpression: string;
  corsConfiguration?: CorsConfig;
  createdDate: string;
  description?: string;
  disableExecuteApiEndpoint: boolean;
  disableSchemaValidation?: boolean;
  ipAddressType?: string;
  version?: string;
  tags: Record<string, string>;
}

export interface RouteSpec {
  routeId: string;
  routeKey: string;
  apiKeyRequired: boolean;
  authorizationType: 'NONE' | 'JWT' | 'CUSTOM' | 'AWS_IAM';
  authorizerId?: string;
  authorizationScopes?: string[];
  operationName?: string;
  requestParameters?: Record<string, unknown>;
  target?: string;
  /** True for what quick create made (API Gateway marks those resources as managed). */
  apiGatewayManaged?: boolean;
}

export interface IntegrationSpec {
  integrationId: string;
  integrationType: 'AWS_PROXY' | 'HTTP_PROXY' | 'MOCK' | 'AWS' | 'HTTP';
  integrationUri?: string;
  integrationMethod?: string;
  connectionType: string;
  payloadFormatVersion: '1.0' | '2.0';
  timeoutInMillis: number;
  description?: string;
  credentialsArn?: string;
  requestParameters?: Record<string, string>;
  apiGatewayManaged?: boolean;
}

export interface StageSpec {
  stageName: string;
  autoDeploy: boolean;
  createdDate: string;
  lastUpdatedDate: string;
  description?: string;
  stageVariables?: Record<string, string>;
  defaultRouteSettings?: Record<string, unknown>;
  routeSettings?: Record<string, unknown>;
  /** The deployment a stage without autoDeploy serves; it serves nothing until it has one. With autoDeploy: its last automatic one. */
  deploymentId?: string;
  /** With autoDeploy: how its last automatic deployment went. */
  lastDeploymentStatusMessage?: string;
  tags: Record<string, string>;
  apiGatewayManaged?: boolean;
}

export interface AuthorizerSpec {
  authorizerId: string;
  name: string;
  authorizerType: 'JWT' | 'REQUEST';
  identitySource: string[];
  jwtConfiguration?: JwtConfiguration;
  authorizerUri?: string;
  authorizerPayloadFormatVersion?: '1.0' | '2.0';
  authorizerResultTtlInSeconds?: number;
  enableSimpleResponses?: boolean;
  identityValidationExpression?: string;
  authorizerCredentialsArn?: string;
}

/**
 * API Gateway's JwtConfiguration (audience, issuer), plus two Stratus extensions for identity
 * providers without OpenID discovery: `jwksUri` (where the keys are) and `jwks` (the JWK Set
 * itself, inline). Without either, keys come from the issuer's discovery document, as in AWS.
 */
export interface JwtConfiguration {
  audience?: string[];
  issuer?: string;
  jwksUri?: string;
  jwks?: { keys: Array<Record<string, unknown>> };
}

/** The routes, integrations and authorizers of an API as they were when it was deployed. */
export interface DeploymentSnapshot {
  routes: RouteSpec[];
  integrations: IntegrationSpec[];
  authorizers: AuthorizerSpec[];
}

export interface DeploymentSpec {
  deploymentId: string;
  createdDate: string;
  description?: string;
  autoDeployed: boolean;
  deploymentStatus: 'DEPLOYED';
  /** Stored, never on the wire. */
  snapshot?: DeploymentSnapshot;
}

export type ChildKind = 'route' | 'integration' | 'stage' | 'authorizer' | 'deployment';
export type ChildSpec = RouteSpec | IntegrationSpec | StageSpec | AuthorizerSpec | DeploymentSpec;

export const DEFAULT_STAGE = '$default';
export const DEFAULT_TIMEOUT_MS = 30_000;
