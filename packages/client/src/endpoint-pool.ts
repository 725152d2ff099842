/**
 * The endpoints a client spreads its calls over: one grpc-js channel per endpoint, handed out
 * round robin, skipping for ENDPOINT_DOWN_MS an endpoint whose call failed to connect. When every
 * endpoint is marked down, the one marked down longest ago is handed out (a node may be back).
 */
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import type { streams } from "@sluice/proto";
import {
  ENDPOINT_DOWN_MS,
  GRPC_MESSAGE_BYTES_MAX,
  RECONNECT_BACKOFF_MS_INITIAL,
  RECONNECT_BACKOFF_MS_MAX,
} from "./constants.js";
import { StreamsServiceClient } from "./put-codec.js";

export interface Endpoint {
  readonly address: string;
  readonly channel: streams.StreamsServiceClient;
  /** Date.now() until which round robin skips this endpoint. */
  downUntilMs: number;
}

export class EndpointPool {
  readonly endpoints: readonly Endpoint[];
  #next = 0;

  /** `tls`: PEM material for TLS channels (an empty object: the system's CAs); absent, plaintext. */
  constructor(
    addresses: readonly string[],
    tls?: {
      readonly ca?: Buffer | string;
      readonly cert?: Buffer | string;
      readonly key?: Buffer | string;
      readonly serverName?: string;
    },
  ) {
    const channelCredentials: ChannelCredentials =
      tls === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
    this.endpoints = addresses.map((address) => ({
      address,
      channel: new StreamsServiceClient(address, channelCredentials, {
        "grpc.max_receive_message_length": GRPC_MESSAGE_BYTES_MAX,
        "grpc.max_send_message_length": GRPC_MESSAGE_BYTES_MAX,
        // Channelz is grpc-js's introspection; nothing reads it, and it costs every call bookkeeping.
        "grpc.enable_channelz": 0,
        "grpc.initial_reconnect_backoff_ms": RECONNECT_BACKOFF_MS_INITIAL,
        "grpc.max_reconnect_backoff_ms": RECONNECT_BACKOFF_MS_MAX,
        ...serverNameOptions(tls?.serverName),
      }),
      downUntilMs: 0,
    }));
  }

  /** The next endpoint in round-robin order that is not marked down (see the class comment). */
  pick(): Endpoint {
    const now = Date.now();
    const count = this.endpoints.length;
    let fallback: Endpoint | undefined;
    for (let step = 0; step < count; step++) {
      const endpoint = this.endpoints[(this.#next + step) % count] as Endpoint;
      if (endpoint.downUntilMs <= now) {
        this.#next = (this.#next + step + 1) % count;
        return endpoint;
      }
      if (fallback === undefined || endpoint.downUntilMs < fallback.downUntilMs) fallback = endpoint;
    }
    this.#next = (this.#next + 1) % count;
    return fallback as Endpoint;
  }

  markDown(endpoint: Endpoint): void {
    endpoint.downUntilMs = Date.now() + ENDPOINT_DOWN_MS;
  }

  markUp(endpoint: Endpoint): void {
    endpoint.downUntilMs = 0;
  }

  close(): void {
    for (const endpoint of this.endpoints) endpoint.channel.close();
  }
}

/** Channel options that check the server's certificate against `serverName` instead of the host dialed. */
export function serverNameOptions(serverName: string | undefined): Record<string, string> {
  return serverName === undefined
    ? {}
    : { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName };
}

function pem(value: Buffer | string | undefined): Buffer | null {
  if (value === undefined) return null;
  return typeof value === "string" ? Buffer.from(value) : value;
}
