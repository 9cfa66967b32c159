/**
 * The Grafana dashboard in the repository (observability/grafana/ebb-dashboard.json), which
 * docker-compose.yml provisions: it is a dashboard Grafana loads, and every query asks for a
 * metric, and labels, that ebb's metrics registry actually serves.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { metricsRegistry } from '../observability/metrics';

const root = path.resolve(__dirname, '..');
const dashboardFile = path.join(root, 'observability/grafana/ebb-dashboard.json');

/**
 * What Grafana requires of a dashboard it provisions from a file (its dashboard JSON model, schema
 * version 39): a uid and title, a schemaVersion, time range, templating list and panels, each panel
 * with an id, a type and a position on the 24-column grid; query panels with Prometheus targets.
 */
const datasource = z.looseObject({ type: z.literal('prometheus'), uid: z.string().min(1) });
const gridPos = z.strictObject({
  h: z.number().int().positive(),
  w: z.number().int().min(1).max(24),
  x: z.number().int().min(0).max(23),
  y: z.number().int().min(0),
});
const target = z.looseObject({
  refId: z.string().regex(/^[A-Z]$/),
  expr: z.string().min(1),
  datasource: datasource.optional(),
  legendFormat: z.string().optional(),
});
const rowPanel = z.looseObject({
  type: z.literal('row'),
  id: z.number().int().positive(),
  title: z.string().min(1),
  collapsed: z.boolean(),
  gridPos,
  panels: z.array(z.unknown()),
});
const queryPanel = z.looseObject({
  type: z.enum(['timeseries', 'stat', 'gauge', 'bargauge', 'table', 'heatmap']),
  id: z.number().int().positive(),
  title: z.string().min(1),
  description: z.string().optional(),
  datasource,
  gridPos,
  targets: z.array(target).min(1),
  fieldConfig: z.looseObject({
    defaults: z.looseObject({ unit: z.string().optional() }),
    overrides: z.array(z.unknown()),
  }),
  options: z.record(z.string(), z.unknown()),
});
const variable = z.looseObject({
  name: z.string().regex(/^\w+$/),
  type: z.enum(['query', 'custom', 'constant', 'datasource', 'interval', 'textbox']),
  datasource: datasource.optional(),
  query: z.union([z.string(), z.looseObject({ query: z.string() })]),
});
const dashboardSchema = z.looseObject({
  uid: z.string().regex(/^[\w-]{1,40}$/),
  title: z.string().min(1),
  tags: z.array(z.string()),
  timezone: z.string(),
  editable: z.boolean(),
  schemaVersion: z.number().int().min(36),
  version: z.number().int(),
  refresh: z.string(),
  time: z.strictObject({ from: z.string(), to: z.string() }),
  templating: z.strictObject({ list: z.array(variable) }),
  annotations: z.strictObject({ list: z.array(z.unknown()) }),
  panels: z.array(z.union([rowPanel, queryPanel])).min(1),
});

const dashboard = dashboardSchema.parse(JSON.parse(fs.readFileSync(dashboardFile, 'utf8')));
const queryPanels = dashboard.panels.filter((p): p is z.infer<typeof queryPanel> => p.type !== 'row');

/** Every query of the dashboard: each panel target's PromQL and each variable's. */
const queries: Array<{ where: string; expr: string }> = [
  ...queryPanels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
  ...dashboard.templating.list.map((v) => ({
    where: `variable ${v.name}`,
    expr: typeof v.query === 'string' ? v.query : v.query.query,
  })),
];

/** Metric names and the label names each has, as registered in ebb's registry (histograms add their series). */
async function registeredMetrics(): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  for (const metric of await metricsRegistry.getMetricsAsJSON()) {
    const instance = metricsRegistry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] };
    const labels = new Set(instance.labelNames ?? []);
    if (String(metric.type) === 'histogram') {
      out.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
      out.set(`${metric.name}_sum`, labels);
      out.set(`${metric.name}_count`, labels);
    } else {
      out.set(metric.name, labels);
    }
  }
  return out;
}

/** `ebb_x{a="1", b=~"$v"}` selectors in a PromQL expression: the metric and the labels it matches on. */
function selectors(expr: string): Array<{ metric: string; labels: string[] }> {
  const found: Array<{ metric: string; labels: string[] }> = [];
  for (const m of expr.matchAll(/\b(ebb_[a-z0-9_]+)\s*(\{([^}]*)\})?/g)) {
    const labels = [...(m[3] ?? '').matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1] ?? '');
    found.push({ metric: m[1] ?? '', labels });
  }
  return found;
}

test('the dashboard is Grafana dashboard JSON: required fields, unique panel ids, panels on the 24-column grid without overlapping', () => {
  const ids = dashboard.panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  const cells = new Set<string>();
  for (const panel of dashboard.panels) {
    const { x, y, w, h } = panel.gridPos;
    expect({ panel: panel.title, fits: x + w <= 24 }).toEqual({ panel: panel.title, fits: true });
    for (let col = x; col < x + w; col++) {
      for (let row = y; row < y + h; row++) {
        const cell = `${col},${row}`;
        expect({ panel: panel.title, overlaps: cells.has(cell) }).toEqual({ panel: panel.title, overlaps: false });
        cells.add(cell);
      }
    }
  }
});

test('the dashboard shows records per outcome, API calls against the budget, run durations and staleness', () => {
  const all = queries.map((q) => q.expr).join('\n');
  for (const metric of [
    'ebb_records_total',
    'ebb_destination_requests_total',
    'ebb_destination_api_budget_used',
    'ebb_destination_api_budget_limit',
    'ebb_run_duration_seconds_bucket',
    'ebb_sync_staleness_seconds',
  ]) {
    expect(all).toContain(metric);
  }
  expect(all).toMatch(/by \(outcome\)/);
});

test("every panel's query names metrics ebb registers, with labels those metrics have", async () => {
  const registered = await registeredMetrics();
  expect(registered.size).toBeGreaterThan(0);
  for (const { where, expr } of queries) {
    const used = selectors(expr);
    expect({ where, metrics: used.length > 0 }).toEqual({ where, metrics: true });
    for (const { metric, labels } of used) {
      expect({ where, metric, registered: registered.has(metric) }).toEqual({ where, metric, registered: true });
      const known = registered.get(metric) ?? new Set<string>();
      for (const label of labels)
        expect({ where, metric, label, known: known.has(label) }).toEqual({ where, metric, label, known: true });
    }
  }
});

test("panels query the datasource docker-compose's Grafana provisions", () => {
  const provisioned = fs.readFileSync(
    path.join(root, 'observability/grafana/provisioning/datasources/prometheus.yml'),
    'utf8',
  );
  const uid = /^\s+uid: (\S+)$/m.exec(provisioned)?.[1];
  expect(uid).toBeDefined();
  for (const panel of queryPanels)
    expect({ panel: panel.title, uid: panel.datasource.uid }).toEqual({ panel: panel.title, uid });
});
