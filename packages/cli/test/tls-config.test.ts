// Proves the TLS configuration is parsed and checked once: --tls-dir names every file by
// convention, explicit flags override it, half a pair or a peer port without a CA is refused, and
// --insecure contradicts TLS; and that `certs init` writes a CA whose node certificates carry the
// node identity and verify, and leaves an existing CA alone.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { nodeIdOfCertificate } from "@sluice/broker";
import { afterAll, describe, expect, it } from "vitest";
import { initCertificates } from "../src/commands/certs.js";
import { parseNodeConfig } from "../src/node/config.js";

const base = ["--node-id=1", "--peers=1=127.0.0.1:7401,2=127.0.0.1:7402"];
const dir = mkdtempSync(join(tmpdir(), "sluice-tls-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("node TLS flags", () => {
  it("--tls-dir names the node's certificate, key and the CA for every port", () => {
    const config = parseNodeConfig([...base, "--tls-dir=/etc/sluice"], {});
    expect(config.tls).toEqual({
      certFile: "/etc/sluice/node-1.crt",
      keyFile: "/etc/sluice/node-1.key",
      caFile: "/etc/sluice/ca.crt",
    });
    expect(config.peerTls).toEqual({
      certFile: "/etc/sluice/node-1.crt",
      keyFile: "/etc/sluice/node-1.key",
      caFile: "/etc/sluice/ca.crt",
    });
    expect(config.insecure).toBe(false);
  });

  it("explicit flags and variables override the convention", () => {
    const config = parseNodeConfig([...base, "--tls-dir=/d", "--peer-tls-ca=/other/ca.crt"], {
      SLUICE_TLS_CERT: "public.crt",
    });
    expect(config.tls?.certFile).toBe(resolve("public.crt"));
    expect(config.peerTls?.caFile).toBe("/other/ca.crt");
    expect(config.peerTls?.certFile).toBe(resolve("public.crt"));
  });

  it("stays plaintext without TLS flags", () => {
    const config = parseNodeConfig(base, {});
    expect(config.tls).toBeUndefined();
    expect(config.peerTls).toBeUndefined();
  });

  it("refuses half a pair, a peer port without a CA, and --insecure with TLS", () => {
    expect(() => parseNodeConfig([...base, "--tls-cert=a.crt"], {})).toThrow(/without its pair/);
    expect(() => parseNodeConfig([...base, "--tls-cert=a.crt", "--tls-key=a.key"], {})).toThrow(/cluster CA/);
    expect(() => parseNodeConfig([...base, "--tls-dir=/d", "--insecure"], {})).toThrow(/contradicts/);
    expect(parseNodeConfig([...base, "--insecure"], {}).insecure).toBe(true);
  });
});

describe("sluice certs init", () => {
  it("issues node certificates that verify against the CA and name their node", () => {
    const out = join(dir, "certs");
    expect(
      initCertificates({
        outDir: out,
        nodeIds: [1, 2],
        clusterId: "c1",
        extraHosts: ["10.0.0.5"],
        validDays: 5,
        force: false,
      }),
    ).toBe(true);
    const ca = new X509Certificate(readFileSync(join(out, "ca.crt")));
    for (const nodeId of [1, 2]) {
      const cert = new X509Certificate(readFileSync(join(out, `node-${nodeId}.crt`)));
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
      expect(cert.checkIP("10.0.0.5")).toBe("10.0.0.5");
      expect(cert.checkHost(`node${nodeId}`)).toBe(`node${nodeId}`);
      expect(nodeIdOfCertificate({ subjectaltname: cert.subjectAltName ?? "" }, "c1")).toBe(nodeId);
      expect(nodeIdOfCertificate({ subjectaltname: cert.subjectAltName ?? "" }, "other")).toBeUndefined();
    }
    const client = new X509Certificate(readFileSync(join(out, "client.crt")));
    expect(client.verify(ca.publicKey)).toBe(true);
  });

  it("leaves a directory that holds a CA alone unless forced", () => {
    const out = join(dir, "again");
    const options = {
      outDir: out,
      nodeIds: [1],
      clusterId: "c1",
      extraHosts: [],
      validDays: 5,
      force: false,
    };
    expect(initCertificates(options)).toBe(true);
    const first = readFileSync(join(out, "ca.crt"), "utf8");
    expect(initCertificates(options)).toBe(false);
    expect(readFileSync(join(out, "ca.crt"), "utf8")).toBe(first);
    expect(initCertificates({ ...options, force: true })).toBe(true);
    expect(readFileSync(join(out, "ca.crt"), "utf8")).not.toBe(first);
  });
});
