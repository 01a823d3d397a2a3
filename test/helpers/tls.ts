/**
 * Certificates made at test time with openssl (Debian's; nothing is checked in): a CA, server certificates for
 * 127.0.0.1 signed by it, client certificates, and whatever a test needs to be wrong (another CA, an expired one).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const openssl = (args: string[], cwd: string) =>
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

export interface Issued {
  cert: string;
  key: string;
}

/** A self-signed CA in `dir` named `name`: `<name>.crt`, `<name>.key`. */
export function makeCa(dir: string, name: string): Issued {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

/**
 * A certificate `<name>.crt` / `<name>.key` for `subject` signed by `ca`, valid for `days` (default 2); `days` -1
 * makes one that has already expired (its notAfter a day before its notBefore), with no wait for it to expire.
 * Server certificates get subjectAltName IP:127.0.0.1 (what clients verify).
 */
export function issue(
  dir: string,
  ca: Issued,
  name: string,
  subject: string,
  o: { days?: number; server?: boolean } = {},
): Issued {
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject],
    dir,
  );
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    o.server ? 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      String(o.days ?? 2),
      '-extfile',
      ext,
    ],
    dir,
  );
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}
