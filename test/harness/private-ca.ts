/**
 * A private certificate authority for TLS tests, made with the openssl command line (Node's crypto
 * reads certificates but cannot issue them): a CA, certificates it signs for a server name and for a
 * client, written as PEM files into a directory.
 *
 * The Temporal SDK's native connection verifies with rustls/webpki, which reads names only from the
 * subjectAltName extension and wants a CA marked as one, so every certificate carries v3 extensions.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface IssuedCertificate {
  certPath: string;
  keyPath: string;
}

export interface PrivateCa extends IssuedCertificate {
  /** Issues a certificate signed by this CA: `server` for a DNS name, `client` for mTLS. */
  issue(name: string, usage: 'server' | 'client'): IssuedCertificate;
}

const OPENSSL = fs.existsSync('/usr/bin/openssl') ? '/usr/bin/openssl' : 'openssl';

function openssl(dir: string, args: string[]): void {
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** P-256 keys: generated in milliseconds, and accepted by both OpenSSL and rustls. */
function newKey(dir: string, file: string): void {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
}

export function createPrivateCa(dir: string, commonName = 'ebb test CA'): PrivateCa {
  fs.mkdirSync(dir, { recursive: true });
  const slug = commonName.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  const ca = { certPath: path.join(dir, `${slug}.pem`), keyPath: path.join(dir, `${slug}.key`) };
  newKey(dir, ca.keyPath);
  const caExt = path.join(dir, `${slug}.ext`);
  fs.writeFileSync(
    caExt,
    [
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[v3_ca]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  openssl(dir, [
    'req',
    '-x509',
    '-new',
    '-key',
    ca.keyPath,
    '-subj',
    `/CN=${commonName}`,
    '-days',
    '2',
    '-config',
    caExt,
    '-extensions',
    'v3_ca',
    '-out',
    ca.certPath,
  ]);

  let serial = 1;
  return {
    ...ca,
    issue(name, usage) {
      const base = path.join(dir, `${slug}-${usage}-${name.replace(/[^a-z0-9]+/gi, '-')}`);
      const issued = { certPath: `${base}.pem`, keyPath: `${base}.key` };
      newKey(dir, issued.keyPath);
      openssl(dir, ['req', '-new', '-key', issued.keyPath, '-subj', `/CN=${name}`, '-out', `${base}.csr`]);
      fs.writeFileSync(
        `${base}.ext`,
        [
          'basicConstraints = critical, CA:FALSE',
          'keyUsage = critical, digitalSignature',
          `extendedKeyUsage = ${usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
          `subjectAltName = DNS:${name}`,
          'authorityKeyIdentifier = keyid',
          '',
        ].join('\n'),
      );
      openssl(dir, [
        'x509',
        '-req',
        '-in',
        `${base}.csr`,
        '-CA',
        ca.certPath,
        '-CAkey',
        ca.keyPath,
        '-set_serial',
        String((serial += 1)),
        '-days',
        '2',
        '-extfile',
        `${base}.ext`,
        '-out',
        issued.certPath,
      ]);
      return issued;
    },
  };
}
