/**
 * How the harness's gRPC clients (AdminClient, StreamsClient) reach a node: plaintext, or TLS
 * trusting the cluster's CA; anonymous, or with an access key sent as `authorization: Bearer
 * <id>:<secret>` on every call (what a node started with --auth-keys expects).
 */
import { type ChannelCredentials, credentials, Metadata } from "@grpc/grpc-js";

export interface ConnectionOptions {
  /** The CA of a node started with TLS (PEM); absent, plaintext. */
  readonly tls?: { readonly ca: Buffer };
  /** An access key of a node started with --auth-keys; absent, calls are anonymous. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function channelCredentialsOf(options: ConnectionOptions): ChannelCredentials {
  return options.tls === undefined ? credentials.createInsecure() : credentials.createSsl(options.tls.ca);
}

/** Makes each call's metadata: the bearer token when there are credentials, else empty. */
export function callMetadataOf(options: ConnectionOptions): () => Metadata {
  const key = options.credentials;
  const authorization = key === undefined ? undefined : `Bearer ${key.accessKeyId}:${key.secretAccessKey}`;
  return () => {
    const metadata = new Metadata();
    if (authorization !== undefined) metadata.set("authorization", authorization);
    return metadata;
  };
}
