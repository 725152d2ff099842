/**
 * Widening the HTTP/2 receive window of a grpc-js *server* call. grpc-js pins a server's window
 * at the 64 KiB default and has an option for it on clients only (`grpc-node.flow_control_window`;
 * the server side is grpc/grpc-node pull request 3058), so a sender of payloads larger than that
 * waits a round trip for every window update. This reaches the call's HTTP/2 session through
 * grpc-js internals, once per session. Should a grpc-js upgrade move them, nothing breaks: the
 * call keeps the default window and large messages arrive more slowly.
 */

interface WindowedSession {
  settings(settings: { initialWindowSize: number }): void;
  setLocalWindowSize(windowBytes: number): void;
}

const widenedSessions = new WeakSet<object>();

/**
 * Grants every stream of the call's connection `streamWindowBytes` and the connection as a whole
 * `connectionWindowBytes` of receive window, the first time a call of that connection arrives.
 * `call` is any grpc-js server call object (unary or streaming).
 */
export function widenServerReceiveWindow(
  call: object,
  streamWindowBytes: number,
  connectionWindowBytes: number,
): void {
  const session: unknown = (call as { call?: { stream?: { session?: unknown } } }).call?.stream?.session;
  if (typeof session !== "object" || session === null || widenedSessions.has(session)) return;
  const candidate = session as Partial<WindowedSession>;
  if (typeof candidate.settings !== "function" || typeof candidate.setLocalWindowSize !== "function") return;
  widenedSessions.add(session);
  try {
    // A new SETTINGS_INITIAL_WINDOW_SIZE applies to the streams already open (RFC 9113, 6.9.2).
    candidate.settings({ initialWindowSize: streamWindowBytes });
    candidate.setLocalWindowSize(connectionWindowBytes);
  } catch {
    // A closing session refuses new settings; its calls are about to end anyway.
  }
}
