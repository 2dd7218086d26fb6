/**
 * The metrics listener (`--metrics-listen-addr`, default 0.0.0.0:9090), as in the Rust server: a
 * separate port that answers `GET /metrics` in the Prometheus text format 0.0.4 and 404 to anything
 * else, so scrapes never share a port (or a firewall rule) with devices.
 */
import http from 'node:http';
import type { Logger } from '../plugin.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.ts';

export function createMetricsServer(render: () => Promise<string>, logger: Logger): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '9' });
      res.end('Not Found');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' });
      res.end();
      return;
    }
    render().then(
      (text) => {
        const body = Buffer.from(text);
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': String(body.byteLength) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (e: unknown) => {
        logger.error('rendering metrics failed', { error: e instanceof Error ? e.message : String(e) });
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '14' });
        res.end('Internal error');
      },
    );
  });
}
