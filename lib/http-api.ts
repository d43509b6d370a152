import { RemovalPolicy, Stack, Token, ValidationError } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  type HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
  PayloadFormatVersion,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import { API_ROUTES, type OperationId } from '../functions/commons/api/routes.ts';

/** The CDK context keys that choose the API's authorization (cdk.json or `-c key=value`). */
export const API_CONTEXT = {
  /** `jwt` or `iam`. */
  auth: 'sluice:apiAuth',
  /** The JWT issuer's URL, `https://…`: its `/.well-known/openid-configuration` names the keys. */
  jwtIssuer: 'sluice:apiJwtIssuer',
  /** The audiences a token's `aud` must match one of: a list, or one comma-separated string. */
  jwtAudience: 'sluice:apiJwtAudience',
} as const;

/** Callers sign their requests with SigV4 and need `execute-api:Invoke` on the route. */
export interface IamApiAuthorization {
  readonly kind: 'iam';
}

/** Callers send `Authorization: Bearer <JWT>` from an OpenID Connect or OAuth 2.0 issuer. */
export interface JwtApiAuthorization {
  readonly kind: 'jwt';
  /** The issuer's URL, `https://…`; API Gateway fetches its discovery document and keys. */
  readonly issuer: string;
  /** A token is accepted when its `aud` (or `client_id`) is one of these. */
  readonly audience: readonly string[];
}

/** How every route of the HTTP API authorizes its callers. */
export type ApiAuthorization = IamApiAuthorization | JwtApiAuthorization;

/**
 * The default stage's limits. The API shares the account's Lambda concurrency with the pipeline,
 * so a flood of API calls must not starve the functions that process files: 50 requests a second
 * at 100–300 ms each is 5–15 concurrent executions, with bursts to 100. Well above what the CLI
 * and a few uploaders need; raise it for heavy upload traffic.
 */
export const DEFAULT_API_THROTTLE: Required<ThrottleSettings> = { rateLimit: 50, burstLimit: 100 };

/**
 * The access log's fields and the `$context` variable each holds. Each line is one JSON object.
 * `error.messageString` is API Gateway's own quoted form of `error.message`, so a message with a
 * quote in it still leaves valid JSON; the others are quoted here.
 */
export function accessLogFields(authorization: ApiAuthorization): Readonly<Record<string, string>> {
  return {
    requestId: '"$context.requestId"',
    ip: '"$context.identity.sourceIp"',
    requestTime: '"$context.requestTime"',
    routeKey: '"$context.routeKey"',
    status: '"$context.status"',
    latencyMs: '"$context.responseLatency"',
    responseLength: '"$context.responseLength"',
    integrationStatus: '"$context.integrationStatus"',
    integrationLatencyMs: '"$context.integrationLatency"',
    errorMessage: '$context.error.messageString',
    authorizerError: '"$context.authorizer.error"',
    integrationError: '"$context.integrationErrorMessage"',
    // Who called, for an audit trail: the signing identity, or the token's subject.
    principal:
      authorization.kind === 'iam'
        ? '"$context.identity.userArn"'
        : '"$context.authorizer.claims.sub"',
  };
}

export interface SluiceHttpApiProps {
  /** The function every route invokes: pass SluiceFunction's `live` alias. */
  readonly handler: IFunction;

  /**
   * How every route authorizes its callers; there is no unauthenticated route.
   * @default - IAM (SigV4 and `execute-api:Invoke`): it needs no identity provider, and nobody
   * can call the API until an IAM policy allows them
   */
  readonly authorization?: ApiAuthorization;

  /**
   * The default stage's steady-state rate (requests a second) and burst limits, for every route.
   * @default DEFAULT_API_THROTTLE - 50 requests a second, bursts of 100
   */
  readonly throttle?: ThrottleSettings;

  /**
   * How long the access log group keeps events.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * sluice's HTTP API on API Gateway: one route per entry of `API_ROUTES`, each a Lambda proxy
 * integration (payload format 2.0) of `handler`, which dispatches on `event.routeKey`. Every route
 * is authorized (JWT or IAM), and the `$default` stage is throttled and writes a JSON access log
 * to a log group of its own. CORS is off: browsers upload to S3 with the presigned POST the API
 * returns, not to the API.
 */
export class SluiceHttpApi extends Construct {
  /** The HTTP API. */
  public readonly api: HttpApi;
  /** The `$default` stage, deployed automatically, throttled and access-logged. */
  public readonly stage: HttpStage;
  /** The stage's URL, `https://<api-id>.execute-api.<region>.amazonaws.com/`. */
  public readonly url: string;
  /** Each route, by `API_ROUTES` operationId; with IAM, `grantInvoke` on one lets a role call it. */
  public readonly routes: Readonly<Record<OperationId, HttpRoute>>;
  /** The authorization every route uses. */
  public readonly authorization: ApiAuthorization;
  /** The authorizer every route (and the API's default) uses. */
  public readonly authorizer: IHttpRouteAuthorizer;
  /** The stage's access log group. */
  public readonly accessLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: SluiceHttpApiProps) {
    super(scope, id);
    this.authorization = props.authorization ?? { kind: 'iam' };
    validateAuthorization(this, this.authorization);
    const throttle = props.throttle ?? DEFAULT_API_THROTTLE;
    validateThrottle(this, throttle);

    this.authorizer =
      this.authorization.kind === 'jwt'
        ? new HttpJwtAuthorizer('JwtAuthorizer', this.authorization.issuer, {
            jwtAudience: [...this.authorization.audience],
          })
        : new HttpIamAuthorizer();
    this.api = new HttpApi(this, 'Resource', {
      apiName: Stack.of(this).stackName,
      description: 'sluice: presigned uploads, and the status of files from the run ledger',
      // The default stage HttpApi would make takes neither access logs nor throttling.
      createDefaultStage: false,
      // Also covers any route added later without an authorizer of its own.
      defaultAuthorizer: this.authorizer,
    });

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      // The group only holds this API's access logs, already bounded by retention.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const fields = Object.entries(accessLogFields(this.authorization));
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(
          `{${fields.map(([name, value]) => `"${name}":${value}`).join(',')}}`,
        ),
      },
    });
    this.url = this.stage.url;

    const routes: Partial<Record<OperationId, HttpRoute>> = {};
    for (const route of API_ROUTES) {
      routes[route.operationId] = new HttpRoute(this, route.operationId, {
        httpApi: this.api,
        routeKey: HttpRouteKey.with(route.path, HttpMethod[route.method]),
        // One integration per route, under the route: a shared one would live under whichever
        // route came first, and reordering API_ROUTES would replace it. Each also grants API
        // Gateway invoke on the handler for this API's route only.
        integration: new HttpLambdaIntegration('Integration', props.handler, {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        }),
        authorizer: this.authorizer,
      });
    }
    this.routes = routes as Record<OperationId, HttpRoute>;
  }
}

/** CDK brands the name as a literal through a private template tag; these names are literals. */
type ValidationErrorName = ConstructorParameters<typeof ValidationError>[0];
const AUTH_ERROR = 'SluiceHttpApiAuthorization' as ValidationErrorName;

/**
 * The API's authorization as the app's context chooses it (`API_CONTEXT`): `sluice:apiAuth` is
 * `jwt` or `iam`; unset, it is `jwt` when an issuer or an audience is given and `iam` otherwise,
 * so a plain `cdk synth` deploys an API that only IAM principals allowed to invoke it can call.
 * An explicit `iam` wins over JWT settings left in the context.
 * Throws a ValidationError naming the key for a value that can't be used.
 */
export function apiAuthorizationFromContext(scope: IConstruct): ApiAuthorization {
  const node = scope.node;
  const kind: unknown = node.tryGetContext(API_CONTEXT.auth);
  const issuer: unknown = node.tryGetContext(API_CONTEXT.jwtIssuer);
  const audience: unknown = node.tryGetContext(API_CONTEXT.jwtAudience);
  const chosen = kind ?? (issuer !== undefined || audience !== undefined ? 'jwt' : 'iam');
  if (chosen === 'iam') return { kind: 'iam' };
  if (chosen !== 'jwt') {
    throw new ValidationError(
      AUTH_ERROR,
      `Context ${API_CONTEXT.auth} must be 'jwt' or 'iam', got '${String(chosen)}'`,
      scope,
    );
  }
  if (typeof issuer !== 'string' || issuer.trim() === '') {
    throw new ValidationError(
      AUTH_ERROR,
      `The HTTP API's JWT authorizer needs an issuer: set context ${API_CONTEXT.jwtIssuer} to its https:// URL (cdk.json, or -c ${API_CONTEXT.jwtIssuer}=https://...), or ${API_CONTEXT.auth}=iam; got ${JSON.stringify(issuer) ?? 'nothing'}`,
      scope,
    );
  }
  const audiences =
    typeof audience === 'string'
      ? audience.split(',').map((a) => a.trim())
      : Array.isArray(audience) && audience.every((a) => typeof a === 'string')
        ? audience.map((a: string) => a.trim())
        : undefined;
  if (audiences === undefined || audiences.length === 0 || audiences.some((a) => a === '')) {
    throw new ValidationError(
      AUTH_ERROR,
      `The HTTP API's JWT authorizer needs an audience: set context ${API_CONTEXT.jwtAudience} to the client id or audience tokens carry (a list, or one comma-separated string); got ${JSON.stringify(audience) ?? 'nothing'}`,
      scope,
    );
  }
  return { kind: 'jwt', issuer: issuer.trim(), audience: audiences };
}

function validateAuthorization(scope: IConstruct, authorization: ApiAuthorization): void {
  if (authorization.kind !== 'jwt') return;
  const { issuer, audience } = authorization;
  // API Gateway only fetches an issuer's discovery document and keys over TLS.
  if (!Token.isUnresolved(issuer) && !/^https:\/\/[^/\s]+/.test(issuer)) {
    throw new ValidationError(
      AUTH_ERROR,
      `The JWT issuer (context ${API_CONTEXT.jwtIssuer}) must be an https:// URL, got '${issuer}'`,
      scope,
    );
  }
  if (audience.length === 0 || audience.some((a) => !Token.isUnresolved(a) && a.trim() === '')) {
    throw new ValidationError(
      AUTH_ERROR,
      `The JWT audience (context ${API_CONTEXT.jwtAudience}) must name at least one audience, none blank, got ${JSON.stringify(audience)}`,
      scope,
    );
  }
}

function validateThrottle(scope: IConstruct, { rateLimit, burstLimit }: ThrottleSettings): void {
  if (rateLimit !== undefined && !Token.isUnresolved(rateLimit) && !(rateLimit > 0)) {
    throw new ValidationError(
      'SluiceHttpApiThrottle' as ValidationErrorName,
      `throttle.rateLimit must be above 0 requests a second, got ${rateLimit}`,
      scope,
    );
  }
  if (
    burstLimit !== undefined &&
    !Token.isUnresolved(burstLimit) &&
    !(Number.isInteger(burstLimit) && burstLimit >= 1)
  ) {
    throw new ValidationError(
      'SluiceHttpApiThrottle' as ValidationErrorName,
      `throttle.burstLimit must be a whole number of requests, at least 1, got ${burstLimit}`,
      scope,
    );
  }
}
