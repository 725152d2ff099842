/**
 * TLS material read from files, and read again when they change, for the node's three ports.
 *
 * The files are polled (fs.watchFile, every TLS_RELOAD_POLL_MS) rather than watched with
 * fs.watch: polling sees a file replaced by rename and a symlink swapped (as Kubernetes updates
 * a mounted secret), where inotify on the old inode goes quiet. A change is taken only when the
 * new certificate and key load together (tls.createSecureContext); a half-written pair is logged
 * and the previous material kept, and the next poll tries again. Listeners are told after the
 * new material is current; the ports apply it to handshakes from then on, open connections keep
 * theirs.
 */
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { createSecureContext } from "node:tls";
import type { experimental } from "@grpc/grpc-js";
import { StartupError, StartupErrorCode } from "./errors.js";
import type { Logger } from "./logger.js";

/** How often certificate files are checked for a change, in ms. */
export const TLS_RELOAD_POLL_MS = 1_000;

/** One certificate chain, its key and the trusted CA certificates, all PEM. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

export interface TlsFilePaths {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string | undefined;
}

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * The current material of one set of files. It is also a grpc-js CertificateProvider (identity
 * and CA), so a gRPC server built on it takes new certificates without a restart.
 */
export class TlsFiles implements experimental.CertificateProvider {
  private material: TlsMaterial;
  private readonly paths: TlsFilePaths;
  private readonly log: Logger;
  private readonly listeners: ((material: TlsMaterial) => void)[] = [];
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly watched: string[];
  private closed = false;

  /** Reads the files now; throws StartupError naming the file that is missing or unusable. */
  constructor(paths: TlsFilePaths, log: Logger, pollIntervalMs: number = TLS_RELOAD_POLL_MS) {
    this.paths = paths;
    this.log = log;
    try {
      this.material = load(paths);
    } catch (error) {
      throw new StartupError(StartupErrorCode.InvalidConfig, (error as Error).message, { cause: error });
    }
    this.watched = [paths.certFile, paths.keyFile, ...(paths.caFile === undefined ? [] : [paths.caFile])];
    for (const file of this.watched) {
      watchFile(file, { interval: pollIntervalMs, persistent: false }, () => this.reload());
    }
  }

  /** The material in use now. */
  current(): TlsMaterial {
    return this.material;
  }

  /** `listener` runs after each change that was taken. */
  onChange(listener: (material: TlsMaterial) => void): void {
    this.listeners.push(listener);
  }

  /** Reads the files again; keeps the previous material (and logs why) when they do not load. */
  reload(): void {
    if (this.closed) return;
    let next: TlsMaterial;
    try {
      next = load(this.paths);
    } catch (error) {
      this.log.warn("TLS files changed but do not load; keeping the previous certificate", {
        error: (error as Error).message,
      });
      return;
    }
    const previous = this.material;
    if (
      previous.cert.equals(next.cert) &&
      previous.key.equals(next.key) &&
      (previous.ca ?? Buffer.alloc(0)).equals(next.ca ?? Buffer.alloc(0))
    ) {
      return;
    }
    this.material = next;
    this.log.info("TLS certificate reloaded", { certFile: this.paths.certFile });
    for (const listener of this.listeners) listener(next);
    this.notifyGrpc();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const file of this.watched) unwatchFile(file);
  }

  // ---- grpc-js CertificateProvider ----

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // Asynchronously, as grpc-js's own providers do: its credentials subscribe before they
    // register the server's watcher, and a synchronous answer would reach no one.
    queueMicrotask(() => {
      if (!this.caListeners.has(listener)) return;
      const ca = this.material.ca;
      listener(ca === undefined ? null : { caCertificate: ca });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => {
      if (!this.identityListeners.has(listener)) return;
      listener({ certificate: this.material.cert, privateKey: this.material.key });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private notifyGrpc(): void {
    const { cert, key, ca } = this.material;
    for (const listener of this.caListeners) listener(ca === undefined ? null : { caCertificate: ca });
    for (const listener of this.identityListeners) listener({ certificate: cert, privateKey: key });
  }
}

/** Reads and checks one set of files; the error names the file and what is wrong with it. */
function load(paths: TlsFilePaths): TlsMaterial {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(
        `cannot read the TLS ${what} ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); create it with "sluice certs init" or fix the path`,
      );
    }
  };
  const cert = read(paths.certFile, "certificate");
  const key = read(paths.keyFile, "private key");
  const ca = paths.caFile === undefined ? undefined : read(paths.caFile, "CA certificate");
  try {
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (error) {
    throw new Error(
      `the TLS certificate ${paths.certFile} and key ${paths.keyFile} do not load together (${(error as Error).message})`,
    );
  }
  return { cert, key, ca };
}
