/**
 * `metrics.port`: GET /metrics on a port of its own, beside the one on the REST port. Why: Kubernetes and most
 * Prometheus setups scrape a dedicated port (a NetworkPolicy can open it to the monitoring namespace only, while
 * agents reach the API ports), and it is the only way to scrape a server that runs with `rest.enabled: false`.
 * node:http rather than a second uWS app: a scrape every few seconds needs no speed, and it keeps this listener
 * independent of the API's (a REST overload or drain never delays a scrape).
 *
 * Public like the REST route (scrapers carry no keys); every other path or method answers the error table's coded
 * JSON error, as every transport does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errors, type MocError } from '../errors.js';
import type { Metrics } from './metrics.js';

export class MetricsListener {
  private readonly server: http.Server;

  constructor(private readonly metrics: Metrics) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // A scraper keeps its connection open between scrapes; an idle one is closed after this.
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
  }

  /** Binds and serves; returns the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics')
      return this.fail(res, errors.noRoute(`${req.method} ${path} (this port serves GET /metrics only)`));
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return this.fail(res, errors.methodNotAllowed(req.method?.toLowerCase() ?? '', path, ['get']), [
        ['allow', 'GET'],
      ]);
    try {
      const m = await this.metrics.text();
      res.writeHead(200, { 'content-type': m.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : m.body);
    } catch (err) {
      this.fail(res, errors.internal(`metrics: ${(err as Error).message}`));
    }
  }

  private fail(res: http.ServerResponse, e: MocError, headers: [string, string][] = []): void {
    res.writeHead(e.httpStatus, { 'content-type': 'application/json', ...Object.fromEntries(headers) });
    res.end(JSON.stringify({ error: { code: e.code, message: e.message, details: e.details } }));
  }

  /** Stops accepting; a scrape under way finishes (it takes milliseconds), idle keep-alive connections close. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  destroy(): Promise<void> {
    this.server.closeAllConnections();
    return this.close();
  }
}
