import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics (served at `/metrics`). */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly writesAccepted: Counter<'region' | 'entity' | 'action'>;
}

/** Creates a registry with process metrics and the gateway's own. */
export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ess_gateway_' });
  return {
    registry,
    httpRequests: new Counter({ name: 'ess_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpDuration: new Histogram({
      name: 'ess_http_request_duration_seconds',
      help: 'HTTP request duration, seconds',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    writesAccepted: new Counter({ name: 'ess_writes_accepted_total', help: 'Writes accepted (enqueued) by region, entity and action', labelNames: ['region', 'entity', 'action'], registers: [registry] }),
  };
}
