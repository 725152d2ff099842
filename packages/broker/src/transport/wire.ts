import type * as grpc from "@grpc/grpc-js";
import { peer } from "@sluice/proto";
import type { NodeId } from "raft-ts";
import { CLUSTER_ID_BYTES_MAX, GRPC_MESSAGE_OVERHEAD_BYTES } from "./constants.js";

/**
 * The RaftStream method with hand-written (de)serializers that stay wire-compatible with
 * peer.proto's RaftStreamRequest but avoid the generated code's copies: an outbound frame is
 * encoded after FRAME_HEADROOM_BYTES of headroom that receive the gRPC message prefix and the
 * protobuf field header, so the frame's own buffer is the serialized request (for grpc-js, from
 * byte GRPC_MESSAGE_PREFIX_BYTES) and the whole gRPC message (for the HTTP/2 sender, which writes
 * it to the stream as it is); inbound frames are views of the received buffer.
 */

/** Tag of `repeated bytes frames = 3` (field 3, wire type 2). */
const FRAMES_TAG = (3 << 3) | 2;
/** A frame length written as a 5-byte varint (padded with continuation bits), fixed in advance. */
const PADDED_LENGTH_BYTES = 5;
export const FRAME_ENVELOPE_BYTES = 1 + PADDED_LENGTH_BYTES;
/** gRPC's length prefix of every message: a compressed flag (u8) and the length (u32 big-endian). */
export const GRPC_MESSAGE_PREFIX_BYTES = 5;
/** Headroom before a frame: the gRPC prefix, then the protobuf field header. */
export const FRAME_HEADROOM_BYTES = GRPC_MESSAGE_PREFIX_BYTES + FRAME_ENVELOPE_BYTES;

/** What the client writes: the hello that opens a stream, a sealed frame, or a ping. */
export type OutboundRequest =
  | { readonly kind: "hello"; readonly fromNodeId: NodeId; readonly clusterId: string }
  /** From FrameEncoder.sealChunks with FRAME_HEADROOM_BYTES of headroom, filled by
   * `envelopeFrame`: together, the whole gRPC message, prefix included. */
  | { readonly kind: "frame"; readonly chunks: readonly Buffer[]; readonly length: number }
  | { readonly kind: "ping" };

/** What the server reads; `error` is set (and the rest empty) when the bytes are not a request. */
export interface InboundRequest {
  readonly fromNodeId: NodeId;
  readonly clusterId: string;
  readonly frames: Buffer[];
  readonly error: string | null;
}

const PING = Buffer.alloc(0);

/**
 * Writes the gRPC prefix and the protobuf field header into the headroom at the start of `first`,
 * the first chunk of a sealed frame of `totalBytes` (headroom included); returns `first`. The
 * chunks then make one complete gRPC message.
 */
export function envelopeFrame(first: Buffer, totalBytes = first.length): Buffer {
  const sealed = first;
  sealed[0] = 0; // not compressed
  sealed.writeUInt32BE(totalBytes - GRPC_MESSAGE_PREFIX_BYTES, 1);
  let length = totalBytes - FRAME_HEADROOM_BYTES;
  sealed[GRPC_MESSAGE_PREFIX_BYTES] = FRAMES_TAG;
  for (let i = GRPC_MESSAGE_PREFIX_BYTES + 1; i < FRAME_HEADROOM_BYTES; i++) {
    const last = i === FRAME_HEADROOM_BYTES - 1;
    sealed[i] = (length & 0x7f) | (last ? 0 : 0x80);
    length >>>= 7;
  }
  return sealed;
}

/** The protobuf bytes of a request (what grpc-js frames itself). */
export function serializeRequest(request: OutboundRequest): Buffer {
  switch (request.kind) {
    case "frame": {
      // grpc-js takes one buffer (and copies it again to prefix it): join the chunks.
      const { chunks, length } = request;
      const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length);
      return whole.subarray(GRPC_MESSAGE_PREFIX_BYTES);
    }
    case "ping":
      return PING;
    case "hello":
      return Buffer.from(
        peer.RaftStreamRequest.encode({
          fromNodeId: request.fromNodeId,
          clusterId: request.clusterId,
          frames: [],
        }).finish(),
      );
  }
}

/**
 * A request as the buffers of one complete gRPC message (prefix and protobuf bytes), for a sender
 * that writes HTTP/2 itself. A frame's chunks already are; a hello or a ping is copied once (they
 * are small).
 */
export function grpcMessageOf(request: OutboundRequest): readonly Buffer[] {
  if (request.kind === "frame") return request.chunks;
  const body = serializeRequest(request);
  const message = Buffer.allocUnsafe(GRPC_MESSAGE_PREFIX_BYTES + body.length);
  message[0] = 0;
  message.writeUInt32BE(body.length, 1);
  body.copy(message, GRPC_MESSAGE_PREFIX_BYTES);
  return [message];
}

function failed(error: string): InboundRequest {
  return { fromNodeId: 0, clusterId: "", frames: [], error };
}

/** Parses a RaftStreamRequest without copying its frames. Never throws. */
export function deserializeRequest(buffer: Buffer): InboundRequest {
  let position = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (position >= buffer.length) return -1;
      const byte = buffer[position++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return Number.isSafeInteger(value) ? value : -1;
      scale *= 128;
    }
    return -1;
  };
  let fromNodeId = 0;
  let clusterId = "";
  const frames: Buffer[] = [];
  while (position < buffer.length) {
    const tag = varint();
    if (tag < 0) return failed("truncated field tag");
    const wireType = tag & 7;
    const field = Math.floor(tag / 8);
    if (wireType === 0) {
      const value = varint();
      if (value < 0) return failed("truncated varint");
      if (field === 1) fromNodeId = value;
    } else if (wireType === 2) {
      const length = varint();
      if (length < 0 || length > buffer.length - position) return failed("length overruns the request");
      const bytes = buffer.subarray(position, position + length);
      position += length;
      if (field === 2) {
        if (length > CLUSTER_ID_BYTES_MAX) return failed("cluster id too long");
        clusterId = bytes.toString("utf8");
      } else if (field === 3) {
        frames.push(bytes);
      }
    } else if (wireType === 1 || wireType === 5) {
      position += wireType === 1 ? 8 : 4;
      if (position > buffer.length) return failed("truncated fixed field");
    } else {
      return failed(`unsupported wire type ${wireType}`);
    }
  }
  return { fromNodeId, clusterId, frames, error: null };
}

export const raftStreamMethod = {
  path: "/sluice.peer.v1.PeerService/RaftStream",
  requestStream: true,
  responseStream: true,
  requestSerialize: serializeRequest,
  requestDeserialize: deserializeRequest,
  responseSerialize: (value: peer.RaftStreamResponse): Buffer =>
    Buffer.from(peer.RaftStreamResponse.encode(value).finish()),
  responseDeserialize: (value: Buffer): peer.RaftStreamResponse => peer.RaftStreamResponse.decode(value),
  originalName: "raftStream",
} as const;

/** The peer service as grpc-js sees it; same path as peer.PeerServiceService, faster codecs. */
export const peerServiceDefinition: grpc.ServiceDefinition = {
  raftStream: raftStreamMethod,
};

/** Channel options a server carrying the peer service needs: frames must fit its messages. */
export function peerServerChannelOptions(maxFrameBytes: number): grpc.ChannelOptions {
  return {
    "grpc.max_receive_message_length": maxFrameBytes + GRPC_MESSAGE_OVERHEAD_BYTES,
    // Channelz is grpc-js's introspection; nothing reads it, and it costs every call bookkeeping.
    "grpc.enable_channelz": 0,
  };
}
