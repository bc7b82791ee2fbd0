/** Per-start TLS material for the simulator: a self-signed CA and a loopback server certificate signed by it. */
import "reflect-metadata"
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator
} from "@peculiar/x509"
import { KeyObject, randomBytes, webcrypto } from "node:crypto"

export interface TlsMaterial {
  /** PEM of the self-signed CA certificate (what a kubeconfig's `certificate-authority-data` carries). */
  readonly caPem: string
  /** PEM of the server certificate for `127.0.0.1` and `localhost`, signed by the CA. */
  readonly certPem: string
  /** PKCS#8 PEM of the server certificate's private key. */
  readonly keyPem: string
}

export interface TlsOptions {
  /** DNS names of the server certificate (default `localhost`). */
  readonly dnsNames?: ReadonlyArray<string> | undefined
  /** IP addresses of the server certificate (default `127.0.0.1`). */
  readonly ipAddresses?: ReadonlyArray<string> | undefined
  /** Common name of the CA (default `aicr-sim-ca`). */
  readonly caName?: string | undefined
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const
const DAY_MS = 86_400_000

const keyPair = () => webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])

const serial = (): string => {
  const bytes = randomBytes(16)
  bytes[0] = bytes[0]! & 0x7f
  return bytes.toString("hex")
}

/** Generates a fresh EC P-256 CA and a server certificate signed by it (valid from an hour ago for a year). */
export const generateTls = async (options: TlsOptions = {}): Promise<TlsMaterial> => {
  const notBefore = new Date(Date.now() - 3_600_000)
  const notAfter = new Date(notBefore.getTime() + 365 * DAY_MS)
  const [caKeys, serverKeys] = await Promise.all([keyPair(), keyPair()])
  const caName = `CN=${options.caName ?? "aicr-sim-ca"}`
  const ca = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: SIGNING,
    extensions: [
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature, true),
      await SubjectKeyIdentifierExtension.create(caKeys.publicKey)
    ]
  })
  const names = [
    ...(options.ipAddresses ?? ["127.0.0.1"]).map((value) => ({ type: "ip" as const, value })),
    ...(options.dnsNames ?? ["localhost"]).map((value) => ({ type: "dns" as const, value }))
  ]
  const server = await X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "CN=kube-apiserver",
    issuer: ca.subject,
    notBefore,
    notAfter,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGNING,
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.keyEncipherment, true),
      new ExtendedKeyUsageExtension([ExtendedKeyUsage.serverAuth]),
      new SubjectAlternativeNameExtension(names),
      await SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
      await AuthorityKeyIdentifierExtension.create(caKeys.publicKey)
    ]
  })
  const keyPem = KeyObject.from(serverKeys.privateKey).export({ type: "pkcs8", format: "pem" }).toString()
  return { caPem: ca.toString("pem"), certPem: server.toString("pem"), keyPem }
}
