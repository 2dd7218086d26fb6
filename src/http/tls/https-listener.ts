/**
 * The HTTPS listener. Bun.serve cannot hand the client certificate to a handler and Bun's
 * node:https sockets have no `getPeerCertificate`, so HTTPS is the plain device listener
 * (../raw-listener.ts: `Bun.listen`, its own HTTP/1.1 layer) bound with `tls`, plus what this file
 * owns: the certificate files (loaded, watched, reloaded on SIGHUP or change) and the handshake
 * policy. Measured on the 2-vCPU gateway it serves /version over mTLS faster per request than
 * nginx doing the same mTLS work, where node:tls feeding node:http reached a quarter of nginx
 * (README, bench/mtls.ts).
 *
 * Client certificates must chain to `clientCa` (checked by the TLS stack); a revoked or expired one
 * is refused right after the handshake, so it never reaches the API.
 */
import type { Socket } from 'bun';
import type { Logger, PeerCertificate } from '../../plugin.ts';
import type { TlsConfig } from '../../config/define.ts';
import { startRawListener, type ListenerDeps, type RawListener } from '../raw-listener.ts';
import { toPeerCertificate, type SocketCertificate } from './peer-certificate.ts';
import { describeCert } from '../../core/authorize.ts';
import { loadTlsMaterial, watchTlsFiles, type TlsMaterial } from './tls-material.ts';
import { resolve } from 'node:path';

export interface HttpsListenerOptions {
  tls: TlsConfig & { listenAddr: string };
  /** Relative paths in `tls` resolve against this folder. */
  configDir: string;
  deps: ListenerDeps;
  logger: Logger;
  /** Watch the files and SIGHUP for reloads (default true). */
  watch?: boolean;
  /** SO_REUSEPORT (`--workers`). */
  reusePort?: boolean;
}

export class HttpsListener {
  private listener!: RawListener;
  private stopWatching: () => void = () => {};

  private constructor(private readonly opts: HttpsListenerOptions, private material: TlsMaterial) {}

  /** Loads the files, binds, and starts watching for changes. */
  static async start(opts: HttpsListenerOptions): Promise<HttpsListener> {
    const self = new HttpsListener(opts, loadTlsMaterial(opts.tls, opts.configDir));
    self.listener = await startRawListener(opts.deps, opts.tls.listenAddr, {
      addrFlag: '--tls-listen-addr',
      ...(opts.reusePort ? { reusePort: true } : {}),
      tls: {
        options: () => {
          const m = self.material;
          return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca, requestCert: true, rejectUnauthorized: m.requireClientCert } : {}) };
        },
        handshake: (s, success, authError) => self.checkHandshake(s, self.material, success, authError),
      },
    });
    if (opts.watch !== false) {
      const t = opts.tls;
      const files = [t.cert, t.key, t.clientCa, t.crl].filter((f): f is string => !!f).map((f) => resolve(opts.configDir, f));
      self.stopWatching = watchTlsFiles(files, opts.logger, (why) => self.reload(why));
    }
    return self;
  }

  get port(): number {
    return this.listener.port;
  }

  /**
   * Re-reads the files; when they changed and are valid, new connections use them (the listener is
   * re-bound on the same port; open connections continue). A broken set is logged and ignored.
   */
  reload(why = 'requested'): boolean {
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.opts.tls, this.opts.configDir);
    } catch (e) {
      this.opts.logger.error('TLS reload failed: keeping the previous certificates', { reason: why, error: (e as Error).message });
      return false;
    }
    if (next.digest === this.material.digest) return false;
    const prev = this.material;
    this.material = next;
    try {
      this.listener.rebind();
    } catch (e) {
      this.material = prev;
      this.listener.rebind();
      this.opts.logger.error('TLS reload failed: keeping the previous certificates', { reason: why, error: (e as Error).message });
      return false;
    }
    this.opts.logger.info('TLS certificates reloaded', { reason: why, clientCa: !!next.ca, revoked: next.revoked?.serials.size ?? 0 });
    return true;
  }

  /** Stops accepting and closes idle connections; answers in flight get up to `drainMs`. */
  async close(drainMs?: number): Promise<void> {
    this.stopWatching();
    await this.listener.close(drainMs);
  }

  /** The client certificate to attach to the connection, undefined for none, false to refuse it. */
  private checkHandshake(s: Socket<unknown>, m: TlsMaterial, success: boolean, authError: Error | null): PeerCertificate | undefined | false {
    const remoteAddress = s.remoteAddress;
    if (!success) {
      const error = authError?.message ?? 'unknown';
      // TLS-stack refusals read `error:…:SSL routines:…` (no certificate, unknown CA, expired); a client that
      // went away mid-handshake is not an authentication failure.
      if (/SSL routines|certificate/i.test(error)) return this.refuse('client certificate refused', { remoteAddress, error });
      this.opts.logger.debug('TLS handshake not completed', { remoteAddress, error });
      return false;
    }
    if (authError) this.opts.logger.debug('TLS handshake', { remoteAddress, error: authError.message });
    if (!m.ca) return undefined;
    const peer = toPeerCertificate((s as unknown as { getPeerCertificate(): SocketCertificate | null }).getPeerCertificate());
    if (!peer) return m.requireClientCert ? this.refuse('client certificate refused', { remoteAddress, error: 'no client certificate' }) : undefined;
    if (authError) return this.refuse('client certificate refused', { remoteAddress, presented: describeCert(peer), error: authError.message });
    const now = Date.now();
    if (now > peer.validTo.getTime() || now < peer.validFrom.getTime()) {
      return this.refuse('client certificate refused', { remoteAddress, presented: describeCert(peer), error: 'certificate is expired or not yet valid' });
    }
    if (m.revoked?.serials.has(peer.serialNumber)) {
      return this.refuse('client certificate refused', { remoteAddress, presented: describeCert(peer), error: 'certificate is revoked (CRL)' });
    }
    return peer;
  }

  private refuse(msg: string, fields: { remoteAddress: string; error: string; presented?: string }): false {
    this.opts.logger.warn(msg, fields);
    this.opts.deps.events.emit('auth-failed', {
      remoteAddress: fields.remoteAddress, stage: 'tls', reason: fields.error,
      ...(fields.presented ? { presented: fields.presented } : {}),
    });
    return false;
  }
}
