// kxbtc dashboard: polls the JSON endpoints of the server that served this page and draws them.
// Plain DOM, no libraries, nothing loaded from elsewhere. Text from the database is only ever set with
// textContent, never parsed as HTML.
"use strict";

const TOKEN = document.querySelector('meta[name="kxbtc-token"]').content;
const REFRESH_MS = Math.max(200, Number(document.querySelector('meta[name="kxbtc-refresh-ms"]').content) || 2000);
const SVG_NS = "http://www.w3.org/2000/svg";

// -- formatting -----------------------------------------------------------------------------------

// The terminal's formats (kxbtc.units): money in dollars and cents rounded half away from 0 with the
// sign before the symbol (-$14.70); prices from their exact string, cents unless the grid needs 4 places
// ($0.56, $0.0150); counts as contracts without trailing ".00".
function dollars(money) {
  if (money === null || money === undefined) return "-";
  return centsText(money.micros);
}

function centsText(micros) {
  const cents = Math.floor((Math.abs(micros) + 5000) / 10000);
  const whole = Math.floor(cents / 100);
  const sign = micros < 0 && cents !== 0 ? "-" : "";
  return `${sign}$${whole.toLocaleString("en-US")}.${String(cents % 100).padStart(2, "0")}`;
}

// Realized P&L net of fees, as the terminal shows it: {micros} minus {micros}.
function netOf(realized, fees) {
  return { micros: realized.micros - fees.micros };
}

function priceText(exact) {
  if (exact === null || exact === undefined || exact === "-") return "-";
  const [whole, frac = ""] = String(exact).split(".");
  const four = frac.padEnd(4, "0");
  return `$${whole}.${four.endsWith("00") ? four.slice(0, 2) : four}`;
}

function countText(exact) {
  if (exact === null || exact === undefined) return "-";
  const text = String(exact);
  return text.endsWith(".00") ? Number(text.slice(0, -3)).toLocaleString("en-US") : text;
}

function signClass(money) {
  if (!money || money.micros === 0) return "";
  return money.micros > 0 ? "pos" : "neg";
}

function shortTime(iso) {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : "-";
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

// columns: [label, value(row) -> string, {num: bool, cls: row -> string}]
function renderTable(containerId, columns, rows, empty) {
  const container = document.getElementById(containerId);
  container.replaceChildren();
  if (!rows.length) {
    container.appendChild(el("p", empty, "muted"));
    return;
  }
  const table = el("table");
  const head = el("tr");
  for (const [label, , opts] of columns) head.appendChild(el("th", label, opts && opts.num ? "num" : ""));
  table.appendChild(el("thead")).appendChild(head);
  const body = table.appendChild(el("tbody"));
  for (const row of rows) {
    const tr = body.appendChild(el("tr", null, row._cls || ""));
    for (const [, value, opts] of columns) {
      const classes = [];
      if (opts && opts.num) classes.push("num");
      if (opts && opts.cls) classes.push(opts.cls(row));
      tr.appendChild(el("td", value(row), classes.join(" ")));
    }
  }
  container.appendChild(table);
}

// -- fetching -------------------------------------------------------------------------------------

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = { error: `${path}: HTTP ${response.status}` };
  }
  if (!response.ok) {
    const err = new Error(body.error || `HTTP ${response.status}`);
    err.status = response.status;
    err.waiting = Boolean(body.waiting);
    throw err;
  }
  return body;
}

async function post(path, payload) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Kxbtc-Token": TOKEN },
    body: JSON.stringify(payload || {}),
  });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showBanner(id, text) {
  const banner = document.getElementById(id);
  banner.textContent = text || "";
  banner.hidden = !text;
}

let flashTimer = null;
function flash(text) {
  showBanner("flash", text);
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => showBanner("flash", ""), 6000);
}

// -- sections -------------------------------------------------------------------------------------

function renderStatus(s, llmToday) {
  const state = document.getElementById("state");
  state.textContent = s.halted ? "HALTED" : "running";
  state.className = s.halted ? "pill halted" : "pill running";
  showBanner("halted-banner", s.halted ? `HALTED: ${s.halt_reason}` : "");

  const eq = s.equity;
  const base = s.risk_baseline;
  const counts = Object.entries(s.order_counts).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const cards = [
    ["Balance", s.balance ? dollars(s.balance.balance) : "-", s.balance ? `as of ${shortTime(s.balance.time)}` : "no snapshot yet"],
    ["Equity", eq ? dollars(eq.equity) : "-", eq ? `as of ${shortTime(eq.time)}` : "no snapshot yet"],
    ["Realized (net of fees)", eq ? dollars(netOf(eq.realized, eq.fees)) : "-", eq ? `before fees ${dollars(eq.realized)}, fees ${dollars(eq.fees)}` : "", eq ? signClass(netOf(eq.realized, eq.fees)) : ""],
    ["Unrealized", eq ? dollars(eq.unrealized_mid) : "-", eq ? `at exit ${dollars(eq.unrealized_exit)}` : "at mid", eq ? signClass(eq.unrealized_mid) : ""],
    [`Today (${s.today.day})`, dollars(s.today.net), `before fees ${dollars(s.today.realized)}, fees ${dollars(s.today.fees)}`, signClass(s.today.net)],
    ["Positions", String(s.open_positions), `resting orders ${s.resting_orders}`],
    ["Orders", String(Object.values(s.order_counts).reduce((a, b) => a + b, 0)), counts],
    ["Breaker baseline", base ? dollars(base.day_start_equity) : "-", base ? `day ${base.day} start; peak ${dollars(base.peak_equity)}` : "not saved yet"],
    ["LLM today", llmToday ? dollars(llmToday.cost) : "-", llmToday ? `${llmToday.calls} calls, ${llmToday.failed} failed` : ""],
  ];
  const container = document.getElementById("cards");
  container.replaceChildren();
  for (const [label, value, note, cls] of cards) {
    const card = container.appendChild(el("div", null, "card"));
    card.appendChild(el("div", label, "label"));
    card.appendChild(el("div", value, `value num ${cls || ""}`));
    card.appendChild(el("div", note, "note muted"));
  }
  const warnings = (s.warnings || []).join("; ");
  document.getElementById("updated").textContent = `updated ${shortTime(s.now)}${warnings ? " — " + warnings : ""}`;
}

function renderChart(points, maxPoints) {
  const container = document.getElementById("chart");
  container.replaceChildren();
  document.getElementById("equity-note").textContent = points.length
    ? `${points.length} points${points.length >= maxPoints - 1 ? " (thinned)" : ""}, ${shortTime(points[0].time)} to ${shortTime(points[points.length - 1].time)}`
    : "";
  if (points.length === 0) {
    container.appendChild(el("p", "no P&L snapshots yet", "muted"));
    return;
  }
  const W = 960, H = 260, left = 90, right = 12, top = 12, bottom = 28;
  const xs = points.map((p) => p.ts_ns / 1e9);
  const ys = points.map((p) => p.equity.micros);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= 1e6; y1 += 1e6; }
  const px = (x) => left + ((x - x0) / (x1 - x0)) * (W - left - right);
  const py = (y) => top + (1 - (y - y0) / (y1 - y0)) * (H - top - bottom);

  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "equity over time");
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    svg.appendChild(node);
    return node;
  };
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    add("line", { x1: left, x2: W - right, y1: py(y), y2: py(y), class: "gridline" });
    add("text", { x: left - 6, y: py(y) + 4, class: "axis", "text-anchor": "end" }, dollars({ micros: Math.round(y) }));
  }
  add("text", { x: left, y: H - 8, class: "axis" }, shortTime(points[0].time));
  add("text", { x: W - right, y: H - 8, class: "axis", "text-anchor": "end" }, shortTime(points[points.length - 1].time));
  const line = points.map((p, i) => `${px(xs[i]).toFixed(1)},${py(ys[i]).toFixed(1)}`).join(" ");
  add("polyline", { points: line, class: "equity" });
  const last = points[points.length - 1];
  add("circle", { cx: px(xs[xs.length - 1]), cy: py(ys[ys.length - 1]), r: 3, class: "equity-dot" });

  const cursor = add("line", { x1: 0, x2: 0, y1: top, y2: H - bottom, class: "cursor", visibility: "hidden" });
  const label = add("text", { x: left + 6, y: top + 12, class: "cursor-label" }, `last ${dollars(last.equity)}`);
  svg.addEventListener("mousemove", (event) => {
    const box = svg.getBoundingClientRect();
    const x = ((event.clientX - box.left) / box.width) * W;
    let best = 0;
    for (let i = 1; i < xs.length; i++) if (Math.abs(px(xs[i]) - x) < Math.abs(px(xs[best]) - x)) best = i;
    const p = points[best];
    cursor.setAttribute("x1", px(xs[best]));
    cursor.setAttribute("x2", px(xs[best]));
    cursor.setAttribute("visibility", "visible");
    label.textContent = `${shortTime(p.time)}  equity ${dollars(p.equity)}  realized ${dollars(netOf(p.realized, p.fees))} net of fees  unrealized ${dollars(p.unrealized_mid)} (exit ${dollars(p.unrealized_exit)})  fees ${dollars(p.fees)}`;
  });
  svg.addEventListener("mouseleave", () => {
    cursor.setAttribute("visibility", "hidden");
    label.textContent = `last ${dollars(last.equity)}`;
  });
  container.appendChild(svg);
}

function positionText(count) {
  if (count === null || count === undefined) return "-";
  if (count.startsWith("-")) return `NO ${countText(count.slice(1))}`;
  return Number(count) === 0 ? "flat" : `YES ${countText(count)}`;
}

function renderPositions(rows) {
  for (const r of rows) r._cls = r.matches_exchange === false ? "mismatch" : "";
  renderTable("positions", [
    ["ticker", (r) => r.ticker],
    ["position", (r) => positionText(r.position), { num: true }],
    ["avg price", (r) => priceText(r.average_price), { num: true }],
    ["cost", (r) => dollars(r.cost), { num: true }],
    ["before fees", (r) => dollars(r.realized), { num: true, cls: (r) => signClass(r.realized) }],
    ["fees", (r) => dollars(r.fees), { num: true }],
    ["exchange", (r) => positionText(r.exchange_position) + (r.matches_exchange === false ? " (differs)" : ""), { num: true }],
  ], rows, "no open positions");
}

function renderOrders(rows) {
  renderTable("orders", [
    ["created", (r) => shortTime(r.created)],
    ["ticker", (r) => r.ticker],
    ["side", (r) => r.side],
    ["price", (r) => priceText(r.price), { num: true }],
    ["count", (r) => countText(r.count), { num: true }],
    ["filled", (r) => countText(r.fill_count), { num: true }],
    ["strategy", (r) => r.strategy],
    ["client id", (r) => r.client_order_id],
  ], rows, "no resting orders");
}

function renderFills(rows) {
  renderTable("fills", [
    ["time", (r) => shortTime(r.time)],
    ["ticker", (r) => r.ticker],
    ["side", (r) => r.side],
    ["price", (r) => priceText(r.price), { num: true }],
    ["count", (r) => countText(r.count), { num: true }],
    ["fee", (r) => dollars(r.fee), { num: true }],
    ["taker", (r) => (r.is_taker ? "yes" : "no")],
    ["strategy", (r) => r.strategy],
    ["fill id", (r) => r.fill_id],
  ], rows, "no fills yet");
}

function renderPnl(report) {
  const total = Object.assign({}, report.total, { _cls: "total" });
  renderTable("pnl", [
    [report.by, (r) => r.key],
    ["before fees", (r) => dollars(r.realized), { num: true, cls: (r) => signClass(r.realized) }],
    ["fees", (r) => dollars(r.fees), { num: true }],
    ["net", (r) => dollars(r.net), { num: true, cls: (r) => signClass(r.net) }],
    ["contracts", (r) => countText(r.volume), { num: true }],
    ["fills", (r) => r.fills, { num: true }],
  ], report.lines.length ? [...report.lines, total] : [], "no fills or settlements yet");
}

function renderRisk(rows) {
  for (const r of rows) r._cls = r.severity === "halt" ? "severe" : r.severity === "warning" ? "warn" : "";
  renderTable("risk", [
    ["time", (r) => shortTime(r.time)],
    ["kind", (r) => r.kind],
    ["severity", (r) => r.severity],
    ["detail", (r) => r.detail],
  ], rows, "no risk events");
}

function renderDecisions(rows) {
  renderTable("decisions", [
    ["time", (r) => shortTime(r.time)],
    ["strategy", (r) => r.strategy],
    ["ticker", (r) => r.ticker],
    ["side", (r) => r.side],
    ["price", (r) => (r.price ? priceText(r.price) : "-"), { num: true }],
    ["count", (r) => (r.count ? countText(r.count) : "-"), { num: true }],
    ["outcome", (r) => r.outcome, { cls: (r) => (r.outcome.startsWith("rejected") ? "neg" : "") }],
    ["reason", (r) => r.reason],
  ], rows, "no decisions recorded");
}

function renderLlm(report) {
  const t = report.today;
  document.getElementById("llm-today").textContent =
    `today (${t.day} UTC): ${t.calls} calls, ${t.failed} failed, ${dollars(t.cost)}`;
  renderTable("llm", [
    ["time", (r) => shortTime(r.time)],
    ["role", (r) => r.role],
    ["provider", (r) => r.provider],
    ["model", (r) => r.model],
    ["ok", (r) => (r.ok ? "yes" : "no"), { cls: (r) => (r.ok ? "" : "neg") }],
    ["latency ms", (r) => r.latency_ms, { num: true }],
    ["cost", (r) => dollars(r.cost), { num: true }],
  ], report.calls, "no LLM calls recorded");
}

// -- the loop -------------------------------------------------------------------------------------

// The engine writes a P&L snapshot every few seconds; the curve is fetched again only when a newer one exists.
let chartDrawnFor = undefined;

async function refresh() {
  const by = document.getElementById("pnl-by").value;
  try {
    const status = await getJson("/api/status");
    const newest = status.equity ? status.equity.ts_ns : null;
    const [positions, orders, fills, pnl, equity, risk, decisions, llm] = await Promise.all([
      getJson("/api/positions"),
      getJson("/api/orders?status=resting&limit=100"),
      getJson("/api/fills?limit=50"),
      getJson(`/api/pnl?by=${encodeURIComponent(by)}`),
      newest === chartDrawnFor ? null : getJson("/api/equity"),
      getJson("/api/risk_events?limit=20"),
      getJson("/api/decisions?limit=30"),
      getJson("/api/llm?limit=30"),
    ]);
    showBanner("error-banner", "");
    renderStatus(status, llm.today);
    if (equity) {
      renderChart(equity.points, equity.max_points);
      chartDrawnFor = newest;
    }
    renderPositions(positions.positions);
    renderOrders(orders.orders);
    renderFills(fills.fills);
    renderPnl(pnl);
    renderRisk(risk.risk_events);
    renderDecisions(decisions.decisions);
    renderLlm(llm);
  } catch (err) {
    chartDrawnFor = undefined;
    const state = document.getElementById("state");
    state.textContent = err.waiting ? "waiting" : "no data";
    state.className = "pill unknown";
    showBanner("error-banner", err.waiting ? `waiting for the database: ${err.message}` : err.message);
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, REFRESH_MS);
}

document.getElementById("halt").addEventListener("click", async () => {
  const reason = window.prompt("Halt trading. Reason (shown by kxbtc status):", "manual halt by the operator");
  if (reason === null) return;
  if (!reason.trim()) {
    flash("not halted: a halt needs a reason");
    return;
  }
  try {
    const result = await post("/api/halt", { reason: reason.trim() });
    flash(result.previous ? `already halted (${result.previous}); reason now: ${result.reason}` : `trading halted: ${result.reason}`);
  } catch (err) {
    flash(`halt failed: ${err.message}`);
  }
  refresh();
});

document.getElementById("resume").addEventListener("click", async () => {
  if (!window.confirm("Resume trading? (Only the manual switch; automatic breakers re-arm by their own rules.)")) return;
  try {
    const result = await post("/api/resume", {});
    flash(result.resumed ? `trading resumed (was halted: ${result.was})` : "trading was not halted; nothing to do");
  } catch (err) {
    flash(`resume failed: ${err.message}`);
  }
  refresh();
});

document.getElementById("pnl-by").addEventListener("change", refresh);

loop();
