/**
 * A throwaway PKI made with `openssl` for the mTLS tests: a device CA (with an `openssl ca`
 * database, so certificates can be revoked and a CRL issued), another CA devices must not be
 * trusted from, a server certificate for 127.0.0.1, and client certificates on demand.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.ts';

export interface ClientCert { cert: string; key: string; serial: string }

export class TestPki {
  readonly dir = tempDir('otaflux-pki-');
  readonly caCert = join(this.dir, 'ca.crt');
  readonly serverCert = join(this.dir, 'server.crt');
  readonly serverKey = join(this.dir, 'server.key');
  readonly crl = join(this.dir, 'crl.pem');
  private otherCa?: string;

  constructor() {
    mkdirSync(join(this.dir, 'newcerts'));
    writeFileSync(join(this.dir, 'index.txt'), '');
    writeFileSync(join(this.dir, 'serial'), '1000\n');
    writeFileSync(join(this.dir, 'crlnumber'), '01\n');
    writeFileSync(join(this.dir, 'ca.cnf'), [
      '[ca]', 'default_ca = d', '[d]', 'dir = .', 'database = index.txt', 'new_certs_dir = newcerts', 'certificate = ca.crt',
      'private_key = ca.key', 'serial = serial', 'crlnumber = crlnumber', 'default_md = sha256', 'default_days = 2',
      'default_crl_days = 2', 'policy = p', 'copy_extensions = copy', 'unique_subject = no', '[p]', 'commonName = supplied', '',
    ].join('\n'));
    this.selfSigned('ca', '/CN=otaflux test device ca');
    this.server('server');
    this.openssl(['ca', '-batch', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem']);
  }

  /** Issues a client certificate from the device CA. `expired`: valid only in 2020. */
  client(name: string, subject: string, opts: { san?: string; expired?: boolean } = {}): ClientCert {
    this.openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    writeFileSync(join(this.dir, `${name}.ext`), `extendedKeyUsage=clientAuth\n${opts.san ? `subjectAltName=${opts.san}\n` : ''}`);
    const dates = opts.expired ? ['-startdate', '20200101000000Z', '-enddate', '20200201000000Z'] : [];
    this.openssl(['ca', '-batch', '-config', 'ca.cnf', '-notext', '-in', `${name}.csr`, '-out', `${name}.crt`, '-extfile', `${name}.ext`, ...dates]);
    const serial = this.openssl(['x509', '-in', `${name}.crt`, '-noout', '-serial']).trim().replace(/^serial=/, '');
    return { cert: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`), serial };
  }

  /** A client certificate from a CA the server does not trust. */
  foreignClient(name: string, subject: string): ClientCert {
    if (!this.otherCa) {
      this.selfSigned('other-ca', '/CN=some other ca');
      this.otherCa = join(this.dir, 'other-ca.crt');
    }
    this.openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    writeFileSync(join(this.dir, `${name}.ext`), 'extendedKeyUsage=clientAuth\n');
    this.openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'other-ca.crt', '-CAkey', 'other-ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
    return { cert: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`), serial: '' };
  }

  /** Revokes a certificate and rewrites the CRL file. */
  revoke(c: ClientCert): void {
    this.openssl(['ca', '-config', 'ca.cnf', '-revoke', c.cert]);
    this.openssl(['ca', '-batch', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem.new']);
    Bun.spawnSync(['mv', 'crl.pem.new', 'crl.pem'], { cwd: this.dir });
  }

  /** Issues a new server certificate (rotation) and returns its SHA-256 fingerprint. */
  server(name: string): string {
    this.openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1']);
    writeFileSync(join(this.dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    this.openssl(['ca', '-batch', '-config', 'ca.cnf', '-notext', '-in', `${name}.csr`, '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
    return this.openssl(['x509', '-in', `${name}.crt`, '-noout', '-fingerprint', '-sha256']).trim().replace(/^.*=/, '');
  }

  openssl(args: string[]): string {
    const r = Bun.spawnSync(['openssl', ...args], { cwd: this.dir });
    if (r.exitCode !== 0) throw new Error(`openssl ${args.slice(0, 2).join(' ')}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  }

  private selfSigned(name: string, subject: string): void {
    this.openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subject,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  }
}
