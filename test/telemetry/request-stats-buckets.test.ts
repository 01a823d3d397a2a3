/**
 * The per-request metrics are kept outside prom-client (src/telemetry/request-stats.ts) and written in its format:
 * cumulative buckets (a value on a bound counts in that bucket), +Inf, _sum and _count, a counter per code.
 */
import t from 'tap';
import client from 'prom-client';
import { RequestStats } from '../../src/telemetry/request-stats.js';

t.test('cumulative buckets, bounds inclusive, +Inf, sum, count; one counter series per code', async (t) => {
  const registry = new client.Registry();
  const stats = new RequestStats(registry, [0.1, 1], {
    count: 'x_total',
    countHelp: 'c',
    duration: 'x_seconds',
    durationHelp: 'd',
  });
  for (const s of [0.05, 0.1, 0.5, 2]) stats.observe('grpc', 'infer', 'OK', s);
  stats.observe('grpc', 'infer', 'MOC_ERR_BUSY', 0);
  const text = await registry.metrics();
  const value = (series: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${series} `))
        ?.split(' ')[1],
    );
  t.equal(value('x_seconds_bucket{transport="grpc",operation="infer",le="0.1"}'), 3, '0, 0.05 and 0.1 (on the bound)');
  t.equal(value('x_seconds_bucket{transport="grpc",operation="infer",le="1"}'), 4, 'cumulative');
  t.equal(value('x_seconds_bucket{transport="grpc",operation="infer",le="+Inf"}'), 5, 'every observation');
  t.equal(value('x_seconds_count{transport="grpc",operation="infer"}'), 5);
  t.equal(value('x_seconds_sum{transport="grpc",operation="infer"}'), 2.65);
  t.equal(value('x_total{transport="grpc",operation="infer",code="OK"}'), 4);
  t.equal(value('x_total{transport="grpc",operation="infer",code="MOC_ERR_BUSY"}'), 1);
  t.match(text, /# TYPE x_seconds histogram/);
  t.match(text, /# TYPE x_total counter/);
  const json = await registry.getMetricsAsJSON();
  t.same(json.map((m) => m.name).sort(), ['x_seconds', 'x_total'], 'listed as metrics of the registry');
});
