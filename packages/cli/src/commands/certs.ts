/**
 * `sluice certs init`: a cluster CA and the certificates of a local or compose cluster, written
 * into one directory:
 *
 *   ca.crt, ca.key                the cluster CA (keep ca.key away from the nodes in production)
 *   node-<id>.crt, node-<id>.key  each node: server and client use, identity
 *                                 sluice://<cluster-id>/node/<id>, host names and IPs as SANs
 *   client.crt, client.key        a client certificate (for clients that present one)
 *
 * A directory that already holds ca.crt is left as it is (exit 0), so an entrypoint may run this
 * on every start; `--force` issues everything anew. Keys are written with mode 0600.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { peerIdentityUri } from "@sluice/broker";
import { CLUSTER_ID_DEFAULT, NODE_ID_MAX } from "../constants.js";
import { type IssuedCertificate, issueCa, issueCertificate } from "./certs-x509.js";
import { EXIT_OK, EXIT_USAGE } from "./common.js";

/** Validity of the CA and of the certificates `certs init` issues, in days. */
export const CA_VALID_DAYS = 3_650;
export const CERT_VALID_DAYS_DEFAULT = 825;
/** Node ids `certs init` issues for by default: a three-node cluster. */
export const CERT_NODES_DEFAULT = 3;
const CERT_NODES_MAX = 64;

/** Names every node certificate carries besides its own: loopback, for a local cluster. */
const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"] as const;

export const CERTS_HELP = `usage: sluice certs init [options]

Creates a cluster CA and certificates for every node and one client, in --out.

options:
  --out DIR            where to write them (default ./certs, or SLUICE_TLS_DIR)
  --nodes N            node ids 1..N (default ${CERT_NODES_DEFAULT})
  --cluster-id ID      the cluster the node identities name (default ${CLUSTER_ID_DEFAULT}, or SLUICE_CLUSTER_ID)
  --host NAME          an extra DNS name or IP on every node certificate; repeatable
                       (always: localhost, 127.0.0.1, ::1, node<id>, sluice-<id>)
  --days N             validity of node and client certificates (default ${CERT_VALID_DAYS_DEFAULT})
  --force              issue everything anew even if --out already holds a CA
  --help               this help
`;

export interface CertsInitOptions {
  readonly outDir: string;
  readonly nodeIds: readonly number[];
  readonly clusterId: string;
  readonly extraHosts: readonly string[];
  readonly validDays: number;
  readonly force: boolean;
}

/** The files `certs init` writes for node `nodeId` in `dir`. */
export function nodeCertificatePaths(dir: string, nodeId: number): { cert: string; key: string } {
  return { cert: join(dir, `node-${nodeId}.crt`), key: join(dir, `node-${nodeId}.key`) };
}

/**
 * Writes the CA, node and client certificates; returns false (and writes nothing) when the
 * directory already holds a CA and `force` is off.
 */
export function initCertificates(options: CertsInitOptions): boolean {
  const dir = resolve(options.outDir);
  const caPath = join(dir, "ca.crt");
  if (existsSync(caPath) && !options.force) return false;
  mkdirSync(dir, { recursive: true });
  const ca = issueCa(`Sluice CA ${options.clusterId}`, CA_VALID_DAYS);
  const write = (base: string, issued: IssuedCertificate) => {
    writeFileSync(join(dir, `${base}.key`), issued.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, `${base}.crt`), issued.certPem, { mode: 0o644 });
  };
  for (const nodeId of options.nodeIds) {
    write(
      `node-${nodeId}`,
      issueCertificate(ca, {
        commonName: `node-${nodeId}`,
        hosts: [...new Set([...LOOPBACK_HOSTS, `node${nodeId}`, `sluice-${nodeId}`, ...options.extraHosts])],
        uris: [peerIdentityUri(options.clusterId, nodeId)],
        validDays: options.validDays,
        usage: "both",
      }),
    );
  }
  write(
    "client",
    issueCertificate(ca, { commonName: "client", validDays: options.validDays, usage: "client" }),
  );
  // The CA last: its presence is what marks the directory complete.
  writeFileSync(join(dir, "ca.key"), ca.keyPem, { mode: 0o600 });
  writeFileSync(caPath, ca.certPem, { mode: 0o644 });
  return true;
}

export async function runCertsCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`sluice certs: ${(error as Error).message}\n${CERTS_HELP}`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(CERTS_HELP);
    return EXIT_OK;
  }
  if (positionals[0] !== "init" || positionals.length !== 1) {
    process.stderr.write(`sluice certs: expected "init"\n${CERTS_HELP}`);
    return EXIT_USAGE;
  }
  const nodes = Number(values.nodes ?? CERT_NODES_DEFAULT);
  const days = Number(values.days ?? CERT_VALID_DAYS_DEFAULT);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > Math.min(CERT_NODES_MAX, NODE_ID_MAX)) {
    process.stderr.write(`sluice certs: --nodes must be an integer from 1 to ${CERT_NODES_MAX}\n`);
    return EXIT_USAGE;
  }
  if (!Number.isInteger(days) || days < 1 || days > CA_VALID_DAYS) {
    process.stderr.write(`sluice certs: --days must be an integer from 1 to ${CA_VALID_DAYS}\n`);
    return EXIT_USAGE;
  }
  const outDir = resolve(values.out ?? env.SLUICE_TLS_DIR ?? "./certs");
  const created = initCertificates({
    outDir,
    nodeIds: Array.from({ length: nodes }, (_, index) => index + 1),
    clusterId: values["cluster-id"] ?? env.SLUICE_CLUSTER_ID ?? CLUSTER_ID_DEFAULT,
    extraHosts: values.host ?? [],
    validDays: days,
    force: values.force ?? false,
  });
  if (!created) {
    process.stdout.write(`${outDir} already holds a CA (ca.crt); left as it is (--force issues anew)\n`);
    return EXIT_OK;
  }
  process.stdout.write(`wrote a CA, ${nodes} node certificates and a client certificate to ${outDir}\n`);
  return EXIT_OK;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: "string" },
      nodes: { type: "string" },
      "cluster-id": { type: "string" },
      host: { type: "string", multiple: true },
      days: { type: "string" },
      force: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
