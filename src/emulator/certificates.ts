import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface EmulatorCertificates {
  /** PEM of the CA clients must trust. */
  caPem: string;
  /** The server's key and certificate chain (leaf, then CA). */
  serverKeyPem: string;
  serverChainPem: string;
}

const validityMs = 365 * 24 * 60 * 60 * 1000;

/**
 * A CA made for this start and a server certificate it signs for localhost, 127.0.0.1 and any `extraHosts`
 * (DNS names or IP addresses, e.g. `emulator` when it runs as a compose service). EC P-256 keeps generation
 * to a few milliseconds. Validity starts an hour back to forgive skewed clocks.
 */
export async function createCertificates(extraHosts: readonly string[] = []): Promise<EmulatorCertificates> {
  const notBeforeDate = new Date(Date.now() - 60 * 60 * 1000);
  const notAfterDate = new Date(notBeforeDate.getTime() + validityMs);
  const common = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', notBeforeDate, notAfterDate } as const;
  // A unique CA name per start: a process that trusts two emulators' CAs (tests, benchmarks) must be able to
  // tell them apart, or TLS verification picks the wrong issuer.
  const caName = `iot-policy-sync Azure emulator CA ${randomBytes(6).toString('hex')}`;
  const ca = await generate([{ name: 'commonName', value: caName }], {
    ...common,
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...common,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: subjectAltNames(extraHosts),
      },
    ],
  });
  return {
    caPem: ca.cert,
    serverKeyPem: server.private,
    serverChainPem: `${server.cert.trimEnd()}\n${ca.cert}`,
  };
}

/** localhost and 127.0.0.1 always, then each extra host once: IP addresses as iPAddress, the rest as dNSName. */
export function subjectAltNames(
  extraHosts: readonly string[],
): ({ type: 2; value: string } | { type: 7; ip: string })[] {
  const hosts = [...new Set(['localhost', '127.0.0.1', ...extraHosts.map((host) => host.toLowerCase())])];
  return hosts.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }));
}
