/** Minimal types for the in-process emulators, which ship none. Only what `local/` uses. */

declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { Server } from 'node:http';
  import type { AddressInfo } from 'node:net';

  export interface S3rverOptions {
    readonly address?: string;
    readonly port?: number;
    readonly silent?: boolean;
    readonly directory?: string;
    readonly resetOnClose?: boolean;
    readonly allowMismatchedSignatures?: boolean;
    readonly vhostBuckets?: boolean;
    readonly configureBuckets?: ReadonlyArray<{
      readonly name: string;
      readonly configs?: readonly string[];
    }>;
  }

  /** One record of s3rver's S3-notification-like `'event'` payload. */
  export interface S3rverEventRecord {
    readonly eventTime: string;
    readonly eventName: string;
    readonly requestParameters: { readonly sourceIPAddress: string };
    readonly responseElements: { readonly 'x-amz-request-id': string };
    readonly s3: {
      readonly bucket: { readonly name: string; readonly arn: string };
      readonly object: {
        readonly key: string;
        readonly size?: number;
        readonly eTag?: string;
        readonly sequencer: string;
      };
    };
  }

  export interface S3rverEvent {
    readonly Records: readonly S3rverEventRecord[];
  }

  /** What s3rver hands its store to write: `content` is a stream unless the body was empty. */
  export interface S3rverObject {
    readonly bucket: string;
    readonly key: string;
    readonly content: NodeJS.ReadableStream | Buffer;
    readonly metadata: Record<string, string>;
  }

  /** The filesystem store; `metadata.etag` is the quoted ETag. */
  export interface S3rverStore {
    getResourcePath(bucket: string, key: string, resource: string): string;
    putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
    putMetadata(
      bucket: string,
      key: string,
      metadata: Record<string, string>,
      md5: string,
    ): Promise<void>;
    getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
    deleteObject(bucket: string, key: string): Promise<unknown>;
    getBucket(bucket: string): Promise<unknown>;
    putBucket(bucket: string): Promise<unknown>;
    deleteBucket(bucket: string): Promise<unknown>;
    /** `key` undefined: a bucket's config (cors, website); else an object's (tagging, acl). */
    getSubresource(bucket: string, key: string | undefined, type: string): Promise<unknown>;
    putSubresource(bucket: string, key: string | undefined, resource: unknown): Promise<unknown>;
    deleteSubresource(bucket: string, key: string | undefined, type: unknown): Promise<unknown>;
    copyObject(
      srcBucket: string,
      srcKey: string,
      destBucket: string,
      destKey: string,
      replacementMetadata: Record<string, string> | null,
    ): Promise<Record<string, string>>;
  }

  export default class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    readonly store: S3rverStore;
    httpServer?: Server;
    /** Koa's middleware stack, composed when the server starts listening. */
    readonly middleware: Array<
      (
        ctx: { readonly headers: Record<string, string | string[] | undefined> },
        next: () => Promise<void>,
      ) => Promise<void>
    >;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    on(event: 'event', listener: (event: S3rverEvent) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
  }
}

declare module 'dynalite' {
  import type { Server } from 'node:http';

  export interface DynaliteOptions {
    readonly path?: string;
    readonly createTableMs?: number;
    readonly deleteTableMs?: number;
    readonly updateTableMs?: number;
    readonly maxItemSizeKb?: number;
  }

  export default function dynalite(options?: DynaliteOptions): Server;
}

declare module 'kinesalite' {
  import type { Server } from 'node:http';

  export interface KinesaliteOptions {
    readonly path?: string;
    readonly createStreamMs?: number;
    readonly deleteStreamMs?: number;
    readonly updateStreamMs?: number;
    readonly shardLimit?: number;
  }

  export default function kinesalite(options?: KinesaliteOptions): Server;
}
