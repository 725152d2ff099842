/**
 * Issues X.509 certificates with node:crypto alone (Node has no issuing API): ECDSA P-256 keys,
 * ecdsa-with-SHA256 signatures, the DER of the certificate written here. Enough for a cluster CA
 * and its node and client certificates; nothing more (no CRLs, no other key types).
 *
 * Every certificate this writes is checked by Node's own parser before it is returned (issuer,
 * signature, subject alternative names), so an encoding mistake fails here, not in a handshake.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from "node:crypto";
import { isIP } from "node:net";

/** A certificate and its private key, both PEM. */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateRequest {
  /** Subject common name. */
  readonly commonName: string;
  /** DNS names and IP addresses (subject alternative names). */
  readonly hosts?: readonly string[];
  /** URI subject alternative names, such as the node identity `sluice://<cluster>/node/<id>`. */
  readonly uris?: readonly string[];
  /** Validity from now, in days. */
  readonly validDays: number;
  /** TLS server, TLS client, or both (extended key usage). */
  readonly usage: "server" | "client" | "both";
}

// ---- DER ----------------------------------------------------------------------------------

function length(bytes: number): Buffer {
  if (bytes < 0x80) return Buffer.from([bytes]);
  const octets: number[] = [];
  for (let rest = bytes; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest & 0xff);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
const utf8 = (text: string): Buffer => tlv(0x0c, Buffer.from(text, "utf8"));
const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
const bitString = (bytes: Buffer): Buffer => tlv(0x03, Buffer.from([0]), bytes);
const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const explicit = (tagNumber: number, inner: Buffer): Buffer => tlv(0xa0 | tagNumber, inner);

/** A positive INTEGER from big-endian bytes (a leading 0 added when the top bit is set). */
function integer(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, (trimmed[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const bytes: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const part of parts.slice(2)) {
    const groups: number[] = [part & 0x7f];
    for (let rest = Math.floor(part / 128); rest > 0; rest = Math.floor(rest / 128)) {
      groups.unshift(0x80 | (rest & 0x7f));
    }
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  return date.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`, "ascii"))
    : tlv(0x18, Buffer.from(`${iso}Z`, "ascii"));
}

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extendedKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

const ORGANIZATION = "Sluice";

function name(commonName: string): Buffer {
  return sequence(
    set(sequence(oid(OID.organization), utf8(ORGANIZATION))),
    set(sequence(oid(OID.commonName), utf8(commonName))),
  );
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(id), boolean(true), octetString(value))
    : sequence(oid(id), octetString(value));
}

/** KeyUsage bits as a DER BIT STRING (bit 0 is the most significant bit of the first byte). */
function keyUsage(bits: readonly number[]): Buffer {
  let value = 0;
  for (const bit of bits) value |= 0x80 >> bit;
  const unused = value === 0 ? 0 : Math.min(...bits.map((bit) => 7 - bit));
  return tlv(0x03, Buffer.from([unused, value]));
}
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

function subjectAltName(hosts: readonly string[], uris: readonly string[]): Buffer {
  const names: Buffer[] = [];
  for (const host of hosts) {
    const family = isIP(host);
    if (family === 4) names.push(tlv(0x87, Buffer.from(host.split(".").map(Number))));
    else if (family === 6) names.push(tlv(0x87, ipv6Bytes(host)));
    else names.push(tlv(0x82, Buffer.from(host, "ascii")));
  }
  for (const uri of uris) names.push(tlv(0x86, Buffer.from(uri, "ascii")));
  return sequence(...names);
}

function ipv6Bytes(address: string): Buffer {
  const [head = "", tail = ""] = address.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = address.includes("::") ? (tail === "" ? [] : tail.split(":")) : [];
  const groups = [
    ...headGroups,
    ...Array(8 - headGroups.length - tailGroups.length).fill("0"),
    ...tailGroups,
  ];
  const bytes = Buffer.alloc(16);
  for (const [index, group] of groups.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  return bytes;
}

/** SHA-1 of the encoded public key (RFC 5280 4.2.1.2 suggests the key bits; any stable id works). */
function keyIdentifier(spki: Buffer): Buffer {
  return createHash("sha1").update(spki).digest();
}

// ---- issuing ------------------------------------------------------------------------------

/** A signer: the issuer's name, key and key identifier. */
export interface Issuer {
  readonly commonName: string;
  readonly key: KeyObject;
  readonly keyId: Buffer;
}

function build(
  request: CertificateRequest & { readonly ca: boolean },
  subjectKey: KeyObject,
  issuer: Issuer | null,
): { der: Buffer; keyId: Buffer } {
  const spki = createPublicKey(subjectKey).export({ type: "spki", format: "der" });
  const keyId = keyIdentifier(spki);
  const notBefore = new Date(Date.now() - 60 * 60 * 1000); // an hour back, for clocks that lag
  const notAfter = new Date(Date.now() + request.validDays * 24 * 60 * 60 * 1000);
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));
  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, request.ca ? sequence(boolean(true)) : sequence()),
    extension(
      OID.keyUsage,
      true,
      keyUsage(request.ca ? [DIGITAL_SIGNATURE, KEY_CERT_SIGN, CRL_SIGN] : [DIGITAL_SIGNATURE]),
    ),
    extension(OID.subjectKeyIdentifier, false, octetString(keyId)),
  ];
  if (issuer !== null) {
    extensions.push(extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, issuer.keyId))));
  }
  if (!request.ca) {
    const usages =
      request.usage === "server"
        ? [OID.serverAuth]
        : request.usage === "client"
          ? [OID.clientAuth]
          : [OID.serverAuth, OID.clientAuth];
    extensions.push(extension(OID.extendedKeyUsage, false, sequence(...usages.map(oid))));
  }
  const hosts = request.hosts ?? [];
  const uris = request.uris ?? [];
  if (hosts.length + uris.length > 0) {
    extensions.push(extension(OID.subjectAltName, false, subjectAltName(hosts, uris)));
  }
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    signatureAlgorithm,
    name(issuer?.commonName ?? request.commonName),
    sequence(time(notBefore), time(notAfter)),
    name(request.commonName),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const signature = sign("sha256", tbs, issuer?.key ?? subjectKey);
  return { der: sequence(tbs, signatureAlgorithm, bitString(signature)), keyId };
}

function pem(der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

function newKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

/** A self-signed CA certificate and its key. */
export function issueCa(commonName: string, validDays: number): IssuedCertificate {
  const key = newKey();
  const { der } = build({ commonName, validDays, usage: "both", ca: true }, key, null);
  const cert = new X509Certificate(der);
  if (!cert.ca || !cert.verify(cert.publicKey)) throw new Error("issued CA certificate does not verify");
  return { certPem: pem(der), keyPem: key.export({ type: "pkcs8", format: "pem" }).toString() };
}

/** A certificate signed by the CA `ca` (PEM certificate and key, as `issueCa` returns them). */
export function issueCertificate(ca: IssuedCertificate, request: CertificateRequest): IssuedCertificate {
  const caCert = new X509Certificate(ca.certPem);
  const caKey = createPrivateKey(ca.keyPem);
  const caSpki = caCert.publicKey.export({ type: "spki", format: "der" });
  const issuer: Issuer = {
    commonName: commonNameOf(caCert.subject),
    key: caKey,
    keyId: keyIdentifier(caSpki),
  };
  const key = newKey();
  const { der } = build({ ...request, ca: false }, key, issuer);
  const cert = new X509Certificate(der);
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) {
    throw new Error(`issued certificate ${request.commonName} does not verify against its CA`);
  }
  return { certPem: pem(der), keyPem: key.export({ type: "pkcs8", format: "pem" }).toString() };
}

function commonNameOf(subject: string): string {
  const line = subject.split("\n").find((entry) => entry.startsWith("CN="));
  if (line === undefined) throw new Error("the CA certificate has no common name");
  return line.slice(3);
}
