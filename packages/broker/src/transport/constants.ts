/**
 * Limits and defaults of the peer transport, each with its unit in its name. Relations between
 * them are asserted when the module loads.
 */

/** Bytes queued for one peer and not yet written before `send` refuses (returns false). */
export const PEER_QUEUE_BYTES_MAX = 64 * 1024 * 1024;

/** Largest encoded frame; also the gRPC max message size, plus GRPC_MESSAGE_OVERHEAD_BYTES. */
export const PEER_FRAME_BYTES_MAX = 16 * 1024 * 1024;

/** Bound on one frame: messages beyond it start a new frame (a frame header counts to 65,535). */
export const FRAME_MESSAGES_MAX = 65_535;

/** Frames written to a stream and not yet acknowledged before the sender stops writing. */
export const FRAMES_IN_FLIGHT_MAX = 64;

/**
 * A receiver acknowledges at once when this many requests of a stream are unanswered (a quarter
 * of FRAMES_IN_FLIGHT_MAX, so a busy sender never waits for an acknowledgement)...
 */
export const ACK_EVERY_REQUESTS = FRAMES_IN_FLIGHT_MAX / 4;

/**
 * ...and otherwise at most this long after the request it leaves unanswered (a stream's first
 * request and pings are answered at once). Far inside LIVENESS_TIMEOUT_MS, so liveness does not
 * notice; an answer per frame would double the messages between nodes.
 */
export const ACK_DELAY_MS = 20;

/**
 * HTTP/2 flow-control window the receiving side grants a peer stream (and twice that to its
 * connection). HTTP/2's default of 64 KiB lets a sender have one 64 KiB entry in flight per round
 * trip through the receiver's event loop, which measured here capped a stream at about 30 MB/s.
 */
export const PEER_STREAM_WINDOW_BYTES = 4 * 1024 * 1024;

/** Room for the protobuf envelope around a frame (node id, cluster id, field tags). */
export const GRPC_MESSAGE_OVERHEAD_BYTES = 4 * 1024;

/** How often a sender pings each peer when nothing else was acknowledged. */
export const LIVENESS_INTERVAL_MS = 500;

/** A peer is Down when nothing came back on its stream for this long. */
export const LIVENESS_TIMEOUT_MS = 2_000;

/** First and largest delay between reconnection attempts; each delay is jittered. */
export const RECONNECT_BACKOFF_MS_MIN = 100;
export const RECONNECT_BACKOFF_MS_MAX = 5_000;

/** gRPC HTTP/2 keepalive: pings on an idle connection catch a dead socket the OS has not. */
export const GRPC_KEEPALIVE_TIME_MS = 10_000;
export const GRPC_KEEPALIVE_TIMEOUT_MS = 5_000;

/** Longest cluster id accepted; longer ones are refused as garbage. */
export const CLUSTER_ID_BYTES_MAX = 256;

function assert(condition: boolean, message: string): void {
  if (!condition) throw new Error(`transport constants: ${message}`);
}

assert(PEER_FRAME_BYTES_MAX <= PEER_QUEUE_BYTES_MAX, "a frame must fit in a peer queue");
assert(FRAME_MESSAGES_MAX <= 0xffff, "the frame header counts messages in 16 bits");
assert(PEER_STREAM_WINDOW_BYTES * 2 < 2 ** 31, "HTTP/2 windows are below 2^31 bytes");
assert(LIVENESS_INTERVAL_MS * 2 <= LIVENESS_TIMEOUT_MS, "a peer must miss two pings to be Down");
assert(RECONNECT_BACKOFF_MS_MIN <= RECONNECT_BACKOFF_MS_MAX, "backoff bounds are ordered");
assert(GRPC_KEEPALIVE_TIMEOUT_MS < GRPC_KEEPALIVE_TIME_MS, "keepalive timeout within its period");

/**
 * An entry decoded from a received frame is copied out of it when the buffer it lies in is more
 * than this many times its size. A view would keep that whole buffer (the entries of every group
 * the frame carried) alive as long as any tail cache holds the entry: measured at 16 busy shards,
 * 155 MiB of frames pinned by 32 MiB of cached entries on a follower. The copy costs one memcpy
 * of the entry; a frame that is mostly one entry is still referenced, not copied.
 */
export const ENTRY_VIEW_BUFFER_RATIO_MAX = 2;
