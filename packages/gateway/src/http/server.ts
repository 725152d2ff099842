/**
 * The Kinesis HTTP API server: HTTP/1.1 and HTTP/2 over cleartext (h2c with prior knowledge, what
 * the AWS SDK for JavaScript v3 speaks with NodeHttp2Handler) on one port. Each accepted TCP
 * connection is sniffed: if its first bytes are the HTTP/2 client preface (`PRI * HTTP/2.0`) the
 * socket goes to an `http2` server, otherwise to an `http` server; the bytes read while sniffing
 * are put back first. Both run the same handler (handler.ts).
 *
 * With `tls` the port speaks TLS only: every connection goes to one `http2.createSecureServer`
 * with `allowHTTP1`, and ALPN picks h2 or http/1.1 (a client that offers no ALPN gets HTTP/1.1);
 * a plaintext client fails the handshake. `setTls` swaps the certificate for handshakes from then
 * on (certificate reload); open connections keep theirs.
 *
 * Bounds: a connection must send its first bytes within HTTP_FIRST_BYTES_TIMEOUT_MS; request
 * bodies are capped (413); HTTP/1.1 connections idle past HTTP_REQUEST_TIMEOUT_MS mid-request or
 * HTTP_KEEP_ALIVE_TIMEOUT_MS between requests are closed, as are idle HTTP/2 sessions; at most
 * HTTP_CONNECTIONS_MAX connections at once. `listen()` can come long before the gateway is ready:
 * until `operations()` returns the gateway's functions, every well-formed call gets 503
 * ServiceUnavailable.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  HTTP_CLOSE_GRACE_MS,
  HTTP_CONNECTIONS_MAX,
  HTTP_DISCARD_BYTES_MAX,
  HTTP_FIRST_BYTES_TIMEOUT_MS,
  HTTP_HEADERS_TIMEOUT_MS,
  HTTP_KEEP_ALIVE_TIMEOUT_MS,
  HTTP_REQUEST_TIMEOUT_MS,
  HTTP2_MAX_CONCURRENT_STREAMS,
  HTTP2_PREFACE,
  HTTP2_PREFACE_SNIFF_BYTES,
} from "./constants.js";
import {
  createKinesisHttpHandler,
  type HttpRequestLike,
  type HttpResponseLike,
  type KinesisHttpHandlerOptions,
} from "./handler.js";

export interface KinesisHttpServerOptions extends KinesisHttpHandlerOptions {
  /** Idle time allowed inside a request, in ms. @default HTTP_REQUEST_TIMEOUT_MS */
  readonly requestTimeoutMs?: number;
  /** Idle time allowed between requests on a connection or session, in ms. @default HTTP_KEEP_ALIVE_TIMEOUT_MS */
  readonly keepAliveTimeoutMs?: number;
  /** Connections at once. @default HTTP_CONNECTIONS_MAX */
  readonly connectionsMax?: number;
  /** TLS (h2 and http/1.1 by ALPN) instead of cleartext. @default undefined (cleartext) */
  readonly tls?: KinesisHttpTls;
}

/** The certificate chain and key the port presents (PEM); `ca` is sent to clients as trusted issuers. */
export interface KinesisHttpTls {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  readonly ca?: Buffer | string | undefined;
}

const PREFACE = Buffer.from(HTTP2_PREFACE, "latin1").subarray(0, HTTP2_PREFACE_SNIFF_BYTES);

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export class KinesisHttpServer {
  private readonly tcp: net.Server;
  private readonly http1: http.Server;
  private readonly http2: http2.Http2Server;
  private readonly secure: http2.Http2SecureServer | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private closing: Promise<void> | undefined;

  constructor(options: KinesisHttpServerOptions) {
    const requestTimeoutMs = positiveInteger(
      "requestTimeoutMs",
      options.requestTimeoutMs ?? HTTP_REQUEST_TIMEOUT_MS,
    );
    const keepAliveTimeoutMs = positiveInteger(
      "keepAliveTimeoutMs",
      options.keepAliveTimeoutMs ?? HTTP_KEEP_ALIVE_TIMEOUT_MS,
    );
    const connectionsMax = positiveInteger("connectionsMax", options.connectionsMax ?? HTTP_CONNECTIONS_MAX);
    const handle = createKinesisHttpHandler(options);

    this.http1 = http.createServer(
      {
        keepAliveTimeout: keepAliveTimeoutMs,
        headersTimeout: Math.min(HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs),
        requestTimeout: requestTimeoutMs,
      },
      (req, res) =>
        handle(req as HttpRequestLike, res as unknown as HttpResponseLike, () => {
          // An answer sent before the body was read (413): drop what the client still sends (up
          // to a bound), so it reads the answer instead of meeting a reset connection.
          let discarded = 0;
          req.on("data", (chunk: Buffer) => {
            discarded += chunk.length;
            if (discarded > HTTP_DISCARD_BYTES_MAX) req.socket.destroy();
          });
          req.resume();
        }),
    );
    // The inner servers never listen: sockets come from the sniffer. `timeout` closes a socket
    // idle that long mid-request (the keep-alive timeout takes over between requests).
    this.http1.timeout = requestTimeoutMs;

    this.http2 = http2.createServer(
      { settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS } },
      (req, res) => {
        req.setTimeout(requestTimeoutMs, () => req.stream.close(http2.constants.NGHTTP2_CANCEL));
        // An answer sent before the body was read (413): reset the stream once it is flushed,
        // so the client stops sending the rest.
        handle(req as unknown as HttpRequestLike, res as unknown as HttpResponseLike, () => {
          if (!req.stream.destroyed) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
        });
      },
    );
    this.http2.setTimeout(keepAliveTimeoutMs);
    this.http2.on("session", (session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      session.on("error", () => {});
    });
    this.http2.on("sessionError", () => {});

    const tls = options.tls;
    if (tls !== undefined) {
      const secure = http2.createSecureServer(
        {
          ...secureContextOptions(tls),
          allowHTTP1: true,
          ALPNProtocols: ["h2", "http/1.1"],
          handshakeTimeout: HTTP_FIRST_BYTES_TIMEOUT_MS,
          settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS },
        },
        (req, res) => {
          if (req.httpVersionMajor !== 2) {
            // HTTP/1.1 by ALPN: Node hands over http's own request and response objects.
            const request = req as unknown as http.IncomingMessage;
            handle(request as HttpRequestLike, res as unknown as HttpResponseLike, () => {
              request.resume();
            });
            return;
          }
          req.setTimeout(requestTimeoutMs, () => req.stream.close(http2.constants.NGHTTP2_CANCEL));
          handle(req as unknown as HttpRequestLike, res as unknown as HttpResponseLike, () => {
            if (!req.stream.destroyed) req.stream.close(http2.constants.NGHTTP2_NO_ERROR);
          });
        },
      );
      secure.setTimeout(keepAliveTimeoutMs);
      secure.on("session", (session) => {
        this.sessions.add(session);
        session.on("close", () => this.sessions.delete(session));
        session.on("error", () => {});
      });
      secure.on("sessionError", () => {});
      secure.on("tlsClientError", () => {});
      this.secure = secure;
    }

    this.tcp = net.createServer((socket) => this.accept(socket));
    this.tcp.maxConnections = connectionsMax;
  }

  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.tcp.once("error", onError);
      this.tcp.listen(port, host, () => {
        this.tcp.off("error", onError);
        this.tcp.on("error", () => {});
        resolve((this.tcp.address() as net.AddressInfo).port);
      });
    });
  }

  /** The bound address, or null before `listen`. */
  address(): net.AddressInfo | null {
    const address = this.tcp.address();
    return typeof address === "object" ? address : null;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Stops accepting, lets requests in flight finish for up to `graceMs`, then closes every
   * connection. Idempotent.
   */
  close(graceMs = HTTP_CLOSE_GRACE_MS): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
      this.http1.closeIdleConnections();
      for (const session of this.sessions) session.close();
      const deadline = Date.now() + graceMs;
      while (this.sockets.size > 0 && Date.now() < deadline) {
        this.http1.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      for (const socket of this.sockets) socket.destroy();
      await stopped;
    })();
    return this.closing;
  }

  /** Uses `tls` for handshakes from now on; throws on a cleartext server or unusable material. */
  setTls(tls: KinesisHttpTls): void {
    if (this.secure === undefined) throw new Error("this Kinesis HTTP server was started without TLS");
    this.secure.setSecureContext(secureContextOptions(tls));
  }

  private accept(socket: net.Socket): void {
    if (this.secure === undefined) {
      this.sniff(socket);
      return;
    }
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    this.secure.emit("connection", socket);
  }

  /** Reads the first bytes of a connection and hands the socket to the HTTP/2 or the HTTP/1.1 server. */
  private sniff(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    socket.setTimeout(HTTP_FIRST_BYTES_TIMEOUT_MS, () => socket.destroy());
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const compared = Math.min(seen.length, PREFACE.length);
      const isPreface = seen.subarray(0, compared).equals(PREFACE.subarray(0, compared));
      if (isPreface && seen.length < PREFACE.length) return; // not decided yet
      socket.off("data", onData);
      socket.setTimeout(0);
      // Put the sniffed bytes back. The HTTP/2 session reads what the socket has buffered itself
      // and must find it paused; the HTTP/1.1 parser takes it from the resumed stream.
      socket.pause();
      socket.unshift(seen);
      if (isPreface) {
        this.http2.emit("connection", socket);
      } else {
        this.http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }
}

function secureContextOptions(tls: KinesisHttpTls): {
  cert: Buffer | string;
  key: Buffer | string;
  ca?: Buffer | string;
} {
  return { cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }) };
}
