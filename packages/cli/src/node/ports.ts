/**
 * Checks, before anything else is opened, that every address the node will listen on can be
 * bound, so that a port taken by another process is reported as one clear line naming the flag,
 * instead of as a failure deep inside gRPC after the storage was opened and recovered.
 */
import { createServer } from "node:net";
import { formatHostPort, type HostPort } from "./config.js";
import { StartupError, StartupErrorCode } from "./errors.js";

export async function checkPortsFree(
  addresses: readonly { flag: string; address: HostPort }[],
): Promise<void> {
  for (const { flag, address } of addresses) {
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once("error", (error: NodeJS.ErrnoException) => {
        const where = `${flag} ${formatHostPort(address)}`;
        const message =
          error.code === "EADDRINUSE"
            ? `${where}: the port is already in use by another process; stop it or choose another port`
            : error.code === "EADDRNOTAVAIL" || error.code === "ENOTFOUND" || error.code === "EAI_AGAIN"
              ? `${where}: this machine has no such address to listen on`
              : error.code === "EACCES"
                ? `${where}: permission denied to listen on this port`
                : `${where}: cannot listen (${error.code ?? error.message})`;
        reject(
          new StartupError(StartupErrorCode.PortUnavailable, message, { cause: error, retriable: true }),
        );
      });
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        server.close(() => resolve());
      });
    });
  }
}
