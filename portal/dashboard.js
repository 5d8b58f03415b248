// Dashboard, the portal's home: what needs doing (orders needing attention, refunds owed) as links,
// and charts of the daily statistics (GET /stats/daily) for the last 30 or 90 days. Charts are
// drawn by Chart.js (chart-umd.js: the npm package's UMD build, served from this origin); each
// has its numbers as a table for screen readers, the canvas itself being hidden from them.

import { api, session } from "./api.js";
import { errorBox, h, money, replace } from "./ui.js";

const RANGES = [30, 90];
const COLORS = { blue: "#0b5cad", green: "#067647", red: "#b42318", amber: "#b54708", purple: "#6941c6", grey: "#545d68" };
const dayLabel = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", day: "numeric", month: "short" });

let view = null;

function loadChartJs() {
  // the UMD build sets globalThis.Chart when imported as a module
  return import("./chart-umd.js").then(() => globalThis.Chart);
}

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function daysOf(query) {
  const n = Number(query.get("days"));
  return RANGES.includes(n) ? n : 30;
}

export async function render(main, ctx) {
  ctx.title("Dashboard");
  view = { main, ctx, charts: [] };
  ctx.signal.addEventListener("abort", destroyCharts, { once: true });
  const range = h("select", { id: "dashboard-range" }, RANGES.map((n) => h("option", { value: String(n) }, `Last ${n} days`)));
  range.value = String(daysOf(ctx.query));
  range.addEventListener("change", () => {
    location.hash = `#/?days=${range.value}`;
  });
  view.range = range;
  view.tiles = h("div", { class: "tiles", id: "dashboard-tiles" });
  view.chartsBox = h("div", { class: "charts", id: "dashboard-charts" });
  replace(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Dashboard"),
      h("span", { class: "spacer" }),
      h("div", { class: "toolbar", style: "margin:0" },
        h("div", { class: "field" }, h("label", { htmlFor: "dashboard-range" }, "Show"), range)),
      h("button", { type: "button", class: "btn", id: "dashboard-refresh", onclick: () => load() }, "Refresh")),
    view.tiles,
    view.chartsBox);
  await load();
}

export async function update(ctx) {
  view.ctx = ctx;
  view.range.value = String(daysOf(ctx.query));
  await load();
}

function destroyCharts() {
  for (const chart of view?.charts || []) chart.destroy();
  if (view) view.charts = [];
}

async function load() {
  const { signal, query } = view.ctx;
  const days = daysOf(query);
  const to = new Date();
  const from = new Date(to.getTime() - (days - 1) * 86400000);
  view.chartsBox.setAttribute("aria-busy", "true");
  try {
    const [stats, counts, owed, Chart] = await Promise.all([
      api.get("/stats/daily", { from: isoDay(from), to: isoDay(to) }, { signal }),
      api.get("/order-statuses", null, { signal }),
      // the refunds owed are one tile: without them (an error) the charts still show
      session.can("billing") ? api.get("/refunds", { state: "owed", limit: 100 }, { signal })
        .catch((err) => (err.name === "AbortError" ? Promise.reject(err) : null)) : null,
      loadChartJs(),
    ]);
    if (signal.aborted) return;
    drawTiles(stats, counts, owed, days);
    drawCharts(Chart, stats, days);
    view.chartsBox.dataset.days = String(days); // what the charts show (tests wait on it)
  } catch (err) {
    if (err.name === "AbortError") return;
    view.chartsBox.replaceChildren(errorBox(err, { title: "The statistics could not be loaded." }));
  } finally {
    view.chartsBox.removeAttribute("aria-busy");
  }
}

function tile(label, value, href, id, note) {
  const figure = h("span", { class: "tile-value", id }, String(value));
  return h("div", { class: "tile" }, href ? h("a", { href }, figure, h("span", { class: "tile-label" }, label))
    : [figure, h("span", { class: "tile-label" }, label)], note ? h("span", { class: "muted tile-note" }, note) : null);
}

function drawTiles(stats, counts, owed, days) {
  const count = (name) => counts.find((c) => c.status === name)?.count ?? 0;
  const sum = (key) => stats.reduce((n, d) => n + d[key], 0);
  const owedCount = owed ? `${owed.refunds.length}${owed.next_cursor ? "+" : ""}` : null;
  const of = (n, one, many) => (n === 1 ? one : many);
  const attention = count("Attention");
  const pending = count("Pending");
  const placed = sum("placed");
  const failed = sum("failed_actions");
  replace(view.tiles,
    tile(of(attention, "order needs attention", "orders need attention"), attention, "#/orders?attention=true", "tile-attention"),
    owed ? tile(of(owed.refunds.length, "refund owed", "refunds owed"), owedCount, "#/refunds", "tile-refunds") : null,
    tile(of(pending, "order pending", "orders pending"), pending, "#/orders?status=Pending", "tile-pending"),
    tile(`${of(placed, "order", "orders")} placed in ${days} days`, placed, null, "tile-placed"),
    tile(`failed ${of(failed, "action", "actions")} in ${days} days`, failed, null, "tile-failed"));
}

/** The currencies money moved in over the range, the most used first. */
function currenciesOf(stats) {
  const seen = new Map();
  for (const d of stats) {
    for (const part of [d.payments, d.refunds]) {
      for (const cur of Object.keys(part.amounts)) seen.set(cur, (seen.get(cur) || 0) + part.count);
    }
  }
  const list = [...seen.keys()].sort((a, b) => seen.get(b) - seen.get(a));
  return list.length ? list : ["USD"];
}

function drawCharts(Chart, stats, days) {
  destroyCharts();
  const labels = stats.map((d) => dayLabel.format(new Date(`${d.date}T00:00:00Z`)));
  const currencies = currenciesOf(stats);
  const amount = (part, cur) => Number(part.amounts[cur] || 0);
  const specs = [
    {
      id: "orders", title: `Orders per day, last ${days} days`, type: "line",
      series: [
        ["Placed", COLORS.blue, (d) => d.placed],
        ["Accepted", COLORS.green, (d) => d.accepted],
        ["Cancelled", COLORS.grey, (d) => d.cancelled],
        ["Set as fraud", COLORS.red, (d) => d.fraud],
      ],
    },
    {
      id: "money", title: `Payments and refunds per day (${currencies.join(", ")}), last ${days} days`, type: "bar",
      money: true,
      series: currencies.flatMap((cur, i) => [
        [`Payments ${cur}`, i ? COLORS.purple : COLORS.green, (d) => amount(d.payments, cur), cur],
        [`Refunds ${cur}`, i ? COLORS.amber : COLORS.red, (d) => amount(d.refunds, cur), cur],
      ]),
    },
    {
      id: "fraud", title: `Fraud screening decisions and failed actions per day, last ${days} days`, type: "bar", stacked: true,
      series: [
        ["Accepted by screening", COLORS.green, (d) => d.fraud_checks.accept],
        ["Flagged for review", COLORS.amber, (d) => d.fraud_checks.review],
        ["Rejected as fraud", COLORS.red, (d) => d.fraud_checks.reject],
        ["Screening errors", COLORS.grey, (d) => d.fraud_checks.error],
        ["Failed actions", COLORS.purple, (d) => d.failed_actions, null, "line"],
      ],
    },
  ];
  replace(view.chartsBox, specs.map((spec) => {
    const canvas = h("canvas", { "aria-hidden": "true" });
    const figure = h("figure", { class: "card chart", id: `chart-${spec.id}`, "aria-labelledby": `chart-${spec.id}-title` },
      h("figcaption", {}, h("h2", { id: `chart-${spec.id}-title` }, spec.title)),
      h("div", { class: "chart-box" }, canvas),
      numbersTable(spec, stats));
    view.charts.push(new Chart(canvas, chartConfig(spec, labels, stats)));
    return figure;
  }));
}

function chartConfig(spec, labels, stats) {
  return {
    type: spec.type,
    data: {
      labels,
      datasets: spec.series.map(([label, color, value, , type]) => ({
        label, type: type || spec.type, data: stats.map(value), borderColor: color, backgroundColor: color,
        borderWidth: 2, pointRadius: 0, tension: 0, stack: type === "line" || !spec.stacked ? undefined : "screening",
      })),
    },
    options: {
      animation: false, // nothing moves on its own (and the figures are there at once)
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: {
        x: { stacked: Boolean(spec.stacked), ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } },
        y: { stacked: Boolean(spec.stacked), beginAtZero: true, ticks: { precision: spec.money ? undefined : 0 } },
      },
    },
  };
}

/** The chart's numbers, a row a day: what a screen reader reads instead of the picture. */
function numbersTable(spec, stats) {
  return h("table", { class: "visually-hidden", dataset: { chart: spec.id } },
    h("caption", {}, `${spec.title}: the numbers`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), spec.series.map(([label]) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, stats.map((d) => h("tr", { dataset: { date: d.date } },
      h("th", { scope: "row" }, d.date),
      spec.series.map(([, , value, cur]) => h("td", {}, cur ? money(value(d), cur) : String(value(d))))))));
}
