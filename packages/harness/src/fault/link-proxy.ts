/**
 * One directed network link between two nodes, as a TCP proxy the runner controls: node i dials
 * node j's peer port through the proxy of link (i, j), so everything i sends to j on its own
 * connections (Raft messages, forwarded requests) and the answers on those connections cross it.
 * Each node opens its own connections to each peer, so cutting link (i, j) alone is a one-way
 * partition at the protocol level: i cannot reach j, j still reaches i.
 *
 * Modes: `pass` forwards (after `delayMs`, order kept); `drop` closes every connection and closes
 * each new one at once (a refused, reset link); `blackhole` accepts and keeps connections but
 * forwards nothing (a silent partition; only timeouts notice). Healing a blackhole closes the
 * connections that lost bytes, since a stream with a hole in it cannot be resumed.
 */
import { createServer, type Server, Socket } from "node:net";

export type LinkMode = "pass" | "drop" | "blackhole";

export interface LinkProxyOptions {
  readonly listenPort: number;
  readonly targetPort: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
}

interface Pipe {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Bytes were thrown away on this connection (blackhole): close it when the link heals. */
  lostBytes: boolean;
}

export class LinkProxy {
  readonly listenPort: number;
  readonly targetPort: number;
  readonly #host: string;
  readonly #pipes = new Set<Pipe>();
  #server: Server | undefined;
  #mode: LinkMode = "pass";
  #delayMs = 0;
  /** Bytes thrown away (blackhole) since the proxy started. */
  droppedBytes = 0;

  constructor(options: LinkProxyOptions) {
    this.listenPort = options.listenPort;
    this.targetPort = options.targetPort;
    this.#host = options.host ?? "127.0.0.1";
  }

  get mode(): LinkMode {
    return this.#mode;
  }

  get delayMs(): number {
    return this.#delayMs;
  }

  /** Starts listening; resolves once the port is bound. */
  start(): Promise<void> {
    const server = createServer({ noDelay: true }, (client) => this.#accept(client));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.listenPort, this.#host, () => {
        server.off("error", reject);
        server.on("error", () => {});
        resolve();
      });
    });
  }

  /** Changes the mode; `drop` closes every open connection now. */
  setMode(mode: LinkMode): void {
    const previous = this.#mode;
    this.#mode = mode;
    if (mode === "drop") this.#closeAll(() => true);
    if (mode === "pass" && previous === "blackhole") this.#closeAll((pipe) => pipe.lostBytes);
  }

  /** Latency added to every chunk from now on, in ms (0: none). */
  setDelayMs(delayMs: number): void {
    if (!(delayMs >= 0)) throw new Error(`LinkProxy delay must be ≥ 0 ms, got ${delayMs}`);
    this.#delayMs = delayMs;
  }

  /** Back to `pass` with no delay. */
  heal(): void {
    this.setDelayMs(0);
    this.setMode("pass");
  }

  async close(): Promise<void> {
    this.#closeAll(() => true);
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #closeAll(which: (pipe: Pipe) => boolean): void {
    for (const pipe of [...this.#pipes]) {
      if (!which(pipe)) continue;
      pipe.client.destroy();
      pipe.upstream.destroy();
      this.#pipes.delete(pipe);
    }
  }

  #accept(client: Socket): void {
    client.on("error", () => {});
    if (this.#mode === "drop") {
      client.resetAndDestroy();
      return;
    }
    const upstream = new Socket();
    upstream.on("error", () => {});
    upstream.setNoDelay(true);
    const pipe: Pipe = { client, upstream, lostBytes: false };
    this.#pipes.add(pipe);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.#pipes.delete(pipe);
    };
    client.on("close", end);
    upstream.on("close", end);
    this.#forward(pipe, client, upstream);
    this.#forward(pipe, upstream, client);
    upstream.connect(this.targetPort, this.#host);
  }

  /** Forwards `from` → `to` in order, each chunk no earlier than its arrival plus the delay. */
  #forward(pipe: Pipe, from: Socket, to: Socket): void {
    let releaseAt = 0;
    from.on("data", (chunk: Buffer) => {
      if (this.#mode !== "pass") {
        pipe.lostBytes = true;
        this.droppedBytes += chunk.length;
        return;
      }
      const delay = this.#delayMs;
      if (delay === 0 && releaseAt <= Date.now()) {
        to.write(chunk);
        return;
      }
      releaseAt = Math.max(releaseAt, Date.now() + delay);
      setTimeout(() => {
        if (this.#mode !== "pass") {
          pipe.lostBytes = true;
          this.droppedBytes += chunk.length;
          return;
        }
        if (!to.destroyed) to.write(chunk);
      }, releaseAt - Date.now());
    });
  }
}
