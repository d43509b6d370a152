import { App, Errors, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES, routeKey } from '../../functions/commons/api/routes.ts';
import {
  API_CONTEXT,
  type ApiAuthorization,
  accessLogFields,
  apiAuthorizationFromContext,
  DEFAULT_API_THROTTLE,
  SluiceHttpApi,
  type SluiceHttpApiProps,
} from '../../lib/http-api.ts';
import { API_FUNCTION_ID } from '../../lib/sluice-stack.ts';
import {
  logicalIdOf,
  SYNTH_TIMEOUT_MS,
  type SynthesizedStatement,
  statementsByPolicy,
  synthesizeStack,
} from './stack-fixture.ts';

const ISSUER = 'https://auth.example.com/realms/sluice';

/** A small stack with a plain function for the API to front, and the app's context. */
function handlerStack(context: Record<string, unknown> = {}) {
  const app = new App({ context });
  const stack = new Stack(app, 'Test');
  const handler = new LambdaFunction(stack, 'Handler', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => ({ statusCode: 200 });'),
  });
  return { app, stack, handler };
}

/** The construct alone on a small stack, authorized as the app's context says. */
function apiOnItsOwn(
  context: Record<string, unknown> = {},
  props: Partial<SluiceHttpApiProps> = {},
): { readonly api: SluiceHttpApi; readonly template: Template } {
  const { app, stack, handler } = handlerStack(context);
  const api = new SluiceHttpApi(stack, 'Api', {
    handler,
    authorization: apiAuthorizationFromContext(app),
    ...props,
  });
  return { api, template: Template.fromStack(stack) };
}

/** What a call throws, or a failure if it does not. */
function thrownBy(call: () => unknown): Error {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('on the sluice stack, with no authorization configured', () => {
  let template: Template;
  const apiRef = () => ({ Ref: logicalIdOf(template, 'AWS::ApiGatewayV2::Api', 'Api') });
  const aliasRef = () => ({
    Ref: logicalIdOf(template, 'AWS::Lambda::Alias', `${API_FUNCTION_ID}LiveAlias`),
  });

  beforeAll(() => {
    // GIVEN the stack as a plain `cdk synth` builds it, WHEN it is synthesized once
    template = synthesizeStack().template;
  }, SYNTH_TIMEOUT_MS);

  it('makes one route per API_ROUTES entry, each with its route key and IAM authorization', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Route', API_ROUTES.length);
    for (const route of API_ROUTES) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        ApiId: apiRef(),
        RouteKey: routeKey(route),
        AuthorizationType: 'AWS_IAM',
      });
    }
    // AND no route is left open, nor a $default catch-all that would take any other path
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.AuthorizationType)).not.toContain('NONE');
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(
      API_ROUTES.map(routeKey).sort(),
    );
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
  });

  it("integrates every route with the HttpApi function's live alias, payload format 2.0", () => {
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
    expect(Object.keys(integrations)).toHaveLength(API_ROUTES.length);
    for (const integration of Object.values(integrations)) {
      expect(integration.Properties).toEqual({
        ApiId: apiRef(),
        IntegrationType: 'AWS_PROXY',
        IntegrationUri: aliasRef(),
        PayloadFormatVersion: '2.0',
      });
    }
    // AND each route targets an integration of its own
    const targets = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) =>
      JSON.stringify(route.Properties.Target),
    );
    expect(new Set(targets).size).toBe(API_ROUTES.length);
  });

  it('lets API Gateway invoke the alias from this API and its routes only', () => {
    // GIVEN every permission that names API Gateway as the principal
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', {
        Properties: { Principal: 'apigateway.amazonaws.com' },
      }),
    );
    // THEN there is one per route, on the alias, with a source ARN of this API and that path
    expect(permissions).toHaveLength(API_ROUTES.length);
    for (const route of API_ROUTES) {
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: aliasRef(),
        Principal: 'apigateway.amazonaws.com',
        SourceArn: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':execute-api:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':',
              apiRef(),
              `/*/*${route.path}`,
            ],
          ],
        },
      });
    }
  });

  it('deploys the $default stage automatically, throttled by default', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: apiRef(),
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: DEFAULT_API_THROTTLE.rateLimit,
        ThrottlingBurstLimit: DEFAULT_API_THROTTLE.burstLimit,
      },
    });
  });

  it('writes JSON access logs to a log group of its own that keeps them a month', () => {
    // GIVEN the stage's access log settings
    const logGroupId = logicalIdOf(template, 'AWS::Logs::LogGroup', 'ApiAccessLogs');
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0];
    const settings = stage?.Properties.AccessLogSettings;
    expect(settings.DestinationArn).toEqual({ 'Fn::GetAtt': [logGroupId, 'Arn'] });
    expect(template.findResources('AWS::Logs::LogGroup')[logGroupId]).toMatchObject({
      Properties: { RetentionInDays: 30 },
      DeletionPolicy: 'Delete',
    });
    // WHEN API Gateway fills in its variables, an error message with a quote included
    const line = (settings.Format as string)
      .replace('$context.error.messageString', JSON.stringify('Say "hi"'))
      .replace(/\$context\.[\w.]+/g, 'x');
    // THEN each line is one JSON object with the fields an operator needs
    expect(JSON.parse(line)).toEqual({
      requestId: 'x',
      ip: 'x',
      requestTime: 'x',
      routeKey: 'x',
      status: 'x',
      latencyMs: 'x',
      responseLength: 'x',
      integrationStatus: 'x',
      integrationLatencyMs: 'x',
      errorMessage: 'Say "hi"',
      authorizerError: 'x',
      integrationError: 'x',
      principal: 'x',
    });
    expect(settings.Format).toContain('"principal":"$context.identity.userArn"');
    for (const variable of [
      'requestId',
      'identity.sourceIp',
      'routeKey',
      'status',
      'responseLatency',
      'error.messageString',
      'authorizer.error',
    ]) {
      expect(settings.Format).toContain(`$context.${variable}`);
    }
  });

  it('outputs the stage URL as ApiUrl', () => {
    template.hasOutput('ApiUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            'https://',
            apiRef(),
            '.execute-api.',
            { Ref: 'AWS::Region' },
            '.',
            { Ref: 'AWS::URLSuffix' },
            '/',
          ],
        ],
      },
    });
  });

  it('leaves the API function out of the state machines, which may not invoke it', () => {
    const alias = JSON.stringify(aliasRef());
    for (const machine of ['ProcessFile', 'ProcessBatch']) {
      const role = logicalIdOf(template, 'AWS::IAM::Role', `${machine}StateMachineRole`);
      const statements: SynthesizedStatement[] = Object.values(
        statementsByPolicy(template, role),
      ).flat();
      expect(JSON.stringify(statements), machine).not.toContain(alias);
    }
    for (const machine of Object.values(
      template.findResources('AWS::StepFunctions::StateMachine'),
    )) {
      expect(Object.keys(machine.Properties.DefinitionSubstitutions)).not.toContain(
        `${API_FUNCTION_ID}FunctionArn`,
      );
    }
  });
});

describe('authorization from the context', () => {
  it('uses IAM when no JWT issuer or audience is set', () => {
    expect(apiAuthorizationFromContext(new App())).toEqual({ kind: 'iam' });
  });

  it(
    "makes a JWT authorizer of the context's issuer and audience, used by every route",
    () => {
      // GIVEN an issuer and two audiences in the context, without sluice:apiAuth
      const { template } = apiOnItsOwn({
        [API_CONTEXT.jwtIssuer]: ISSUER,
        [API_CONTEXT.jwtAudience]: ['sluice-cli', 'sluice-console'],
      });
      // THEN the API has one JWT authorizer with them, reading the bearer token
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
      template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
        AuthorizerType: 'JWT',
        IdentitySource: ['$request.header.Authorization'],
        JwtConfiguration: { Issuer: ISSUER, Audience: ['sluice-cli', 'sluice-console'] },
      });
      // AND every route uses it
      const authorizer = {
        Ref: logicalIdOf(template, 'AWS::ApiGatewayV2::Authorizer', 'ApiJwtAuthorizer'),
      };
      const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
      expect(routes).toHaveLength(API_ROUTES.length);
      for (const route of routes) {
        expect(route.Properties).toMatchObject({
          AuthorizationType: 'JWT',
          AuthorizerId: authorizer,
        });
      }
      // AND the access log names the token's subject
      const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0];
      expect(stage?.Properties.AccessLogSettings.Format).toContain(
        '"principal":"$context.authorizer.claims.sub"',
      );
    },
    SYNTH_TIMEOUT_MS,
  );

  it('reads a comma-separated audience, as `-c` passes it', () => {
    const app = new App({
      context: {
        [API_CONTEXT.auth]: 'jwt',
        [API_CONTEXT.jwtIssuer]: ISSUER,
        [API_CONTEXT.jwtAudience]: 'sluice-cli, sluice-console',
      },
    });
    expect(apiAuthorizationFromContext(app)).toEqual({
      kind: 'jwt',
      issuer: ISSUER,
      audience: ['sluice-cli', 'sluice-console'],
    });
  });

  it(
    'uses IAM when sluice:apiAuth says so, whatever JWT settings are left in the context',
    () => {
      const { template } = apiOnItsOwn({
        [API_CONTEXT.auth]: 'iam',
        [API_CONTEXT.jwtIssuer]: ISSUER,
        [API_CONTEXT.jwtAudience]: 'sluice-cli',
      });
      template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
      const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
      expect(routes.map((r) => r.Properties.AuthorizationType)).toEqual(
        API_ROUTES.map(() => 'AWS_IAM'),
      );
    },
    SYNTH_TIMEOUT_MS,
  );

  it.each([
    [{ [API_CONTEXT.auth]: 'jwt' }, API_CONTEXT.jwtIssuer],
    [{ [API_CONTEXT.auth]: 'jwt', [API_CONTEXT.jwtIssuer]: ISSUER }, API_CONTEXT.jwtAudience],
    [{ [API_CONTEXT.jwtAudience]: 'sluice-cli' }, API_CONTEXT.jwtIssuer],
    [
      { [API_CONTEXT.jwtIssuer]: ISSUER, [API_CONTEXT.jwtAudience]: ' , ' },
      API_CONTEXT.jwtAudience,
    ],
    [{ [API_CONTEXT.auth]: 'cognito' }, API_CONTEXT.auth],
  ])('fails the synth with a ValidationError for %j, naming %s', (context, key) => {
    // GIVEN a context that asks for JWT without what it needs, or an unknown kind
    const error = thrownBy(() => apiAuthorizationFromContext(new App({ context })));
    // THEN the error is CDK's ValidationError, and tells which key to set
    expect(Errors.isValidationError(error)).toBe(true);
    expect(error.message).toContain(key);
  });
});

describe('SluiceHttpApi props', () => {
  it.each<[ApiAuthorization, string]>([
    [{ kind: 'jwt', issuer: 'http://auth.example.com', audience: ['a'] }, "got 'http://auth"],
    [{ kind: 'jwt', issuer: ISSUER, audience: [] }, 'got []'],
  ])('rejects the JWT authorization %j', (authorization, received) => {
    const { stack, handler } = handlerStack();
    const error = thrownBy(() => new SluiceHttpApi(stack, 'Api', { handler, authorization }));
    expect(Errors.isValidationError(error)).toBe(true);
    expect(error.message).toContain(received);
  });

  it.each([
    [{ rateLimit: 0 }, 'throttle.rateLimit must be above 0 requests a second, got 0'],
    [
      { burstLimit: 2.5 },
      'throttle.burstLimit must be a whole number of requests, at least 1, got 2.5',
    ],
  ])('rejects the throttle %j', (throttle, message) => {
    const { stack, handler } = handlerStack();
    const error = thrownBy(() => new SluiceHttpApi(stack, 'Api', { handler, throttle }));
    expect(Errors.isValidationError(error)).toBe(true);
    expect(error.message).toBe(message);
  });

  it(
    'takes its throttling and log retention from props',
    () => {
      const { api, template } = apiOnItsOwn(
        {},
        { throttle: { rateLimit: 5, burstLimit: 10 }, logRetention: RetentionDays.ONE_WEEK },
      );
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
      // AND the API is the construct's primary child, its routes named by operationId
      expect(api.node.defaultChild).toBe(api.api);
      expect(Object.keys(api.routes)).toEqual(API_ROUTES.map((r) => r.operationId));
      expect(accessLogFields(api.authorization).principal).toBe('"$context.identity.userArn"');
    },
    SYNTH_TIMEOUT_MS,
  );
});
