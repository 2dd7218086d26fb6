/**
 * The HTTPS listener's files: server certificate and key, client CA bundle, CRL. Loaded and checked
 * together, so a half-written rotation never replaces a working set; reloaded on SIGHUP or when
 * a file changes on disk (the folders are watched, so rotation by rename is seen too).
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, basename, resolve } from 'node:path';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import type { TlsConfig } from '../../config/define.ts';
import type { Logger } from '../../plugin.ts';
import { parseCrls, pemBlocks, type RevocationList } from './crl.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle of client CAs; absent means no client certificates are asked for. */
  ca?: string;
  requireClientCert: boolean;
  revoked?: RevocationList;
  /** Hash of every file's bytes, to skip reloads that change nothing. */
  digest: string;
}

/** Reads and checks the files named in `tls` (paths resolved against `configDir`). Throws with the file name. */
export function loadTlsMaterial(tls: TlsConfig, configDir: string): TlsMaterial {
  const path = (p: string) => resolve(configDir, p);
  const read = (what: string, p: string) => {
    try {
      return readFileSync(path(p));
    } catch (e) {
      throw new Error(`reading TLS ${what} ${path(p)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const cert = read('certificate', tls.cert);
  const key = read('key', tls.key);
  try {
    const leaf = new X509Certificate(cert);
    if (!leaf.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not match the certificate');
  } catch (e) {
    throw new Error(`checking TLS certificate ${path(tls.cert)} and key ${path(tls.key)}: ${(e as Error).message}`);
  }
  const digest = createHash('sha256').update(cert).update(key);
  let ca: Buffer | undefined;
  let revoked: RevocationList | undefined;
  if (tls.clientCa) {
    ca = read('client CA', tls.clientCa);
    digest.update(ca);
    const cas = pemBlocks(ca, 'CERTIFICATE').map((d) => new X509Certificate(d));
    if (cas.length === 0) throw new Error(`reading TLS client CA ${path(tls.clientCa)}: no PEM certificate in it`);
    if (tls.crl) {
      const crl = read('CRL', tls.crl);
      digest.update(crl);
      try {
        revoked = parseCrls(crl, cas);
      } catch (e) {
        throw new Error(`reading TLS CRL ${path(tls.crl)}: ${(e as Error).message}`);
      }
    }
  } else if (tls.crl) {
    throw new Error('TLS crl is set but clientCa is not: a CRL only applies to client certificates');
  }
  return {
    cert: cert.toString(),
    key: key.toString(),
    ...(ca ? { ca: ca.toString() } : {}),
    requireClientCert: ca ? (tls.requireClientCert ?? true) : false,
    ...(revoked ? { revoked } : {}),
    digest: digest.digest('hex'),
  };
}

/**
 * Calls `onChange` (debounced) when SIGHUP arrives or one of `files` changes. Returns a stop function.
 */
export function watchTlsFiles(files: string[], logger: Logger, onChange: (why: string) => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = (why: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange(why), 150);
  };
  const byDir = new Map<string, Set<string>>();
  for (const f of files) {
    const d = dirname(f);
    if (!byDir.has(d)) byDir.set(d, new Set());
    byDir.get(d)?.add(basename(f));
  }
  const watchers: FSWatcher[] = [];
  for (const [d, names] of byDir) {
    try {
      watchers.push(watch(d, (_event, name) => {
        if (name && names.has(String(name))) fire(`${String(name)} changed`);
      }));
    } catch (e) {
      logger.warn('cannot watch TLS files: reload with SIGHUP', { dir: d, error: (e as Error).message });
    }
  }
  const onHup = () => fire('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    clearTimeout(timer);
    process.off('SIGHUP', onHup);
    for (const w of watchers) w.close();
  };
}
