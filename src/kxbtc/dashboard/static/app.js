// kxbtc dashboard: draws what the server that served this page reads from the engine's database.
// The markets view is pushed by server-sent events (/api/markets/stream) after a first fetch; the account
// view polls the JSON endpoints. Plain DOM, no libraries, nothing loaded from elsewhere. Text from the
// database is only ever set with textContent, never parsed as HTML. Every time shown is the data's
// clock (the engine's), never this browser's.
"use strict";

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
  // The credential is the HttpOnly session cookie /api/login set; this script never sees it.
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(payload || {}),
  });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) {
    const err = new Error(body.error || `HTTP ${response.status}`);
    err.status = response.status;
    throw err;
  }
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
  state.textContent = s.halted ? "HALTED" : "not halted";
  state.className = s.halted ? "pill halted" : "pill running";
  renderEngine(s.engine);
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
  renderUpdated(s.now, warnings);
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

// -- engine and clock -----------------------------------------------------------------------------

function renderEngine(engine) {
  const pill = document.getElementById("engine");
  if (!engine) {
    pill.textContent = "engine: no heartbeat";
    pill.className = "pill unknown";
    pill.title = "no engine of this kxbtc version has run on this database";
    return;
  }
  const running = engine.state === "running";
  pill.textContent = running ? `engine running (${engine.mode})` : "engine stopped";
  pill.className = running ? "pill running" : "pill stopped";
  pill.title = engine.text;
}

function renderUpdated(now, warnings) {
  const text = now ? `data as of ${shortTime(now)}` : "no data time yet";
  document.getElementById("updated").textContent = `${text}${warnings ? " — " + warnings : ""}`;
}

// -- the markets view -----------------------------------------------------------------------------

function sideOf(positionRaw, position) {
  if (!positionRaw) return "flat";
  return positionRaw > 0 ? `YES ${position}` : `NO ${position.replace("-", "")}`;
}

// A 0..1 price scale with the bid-ask band and the fair value's marker.
function priceScale(m) {
  const scale = el("div", null, "scale");
  const pct = (text) => `${(Number(text) * 100).toFixed(2)}%`;
  if (m.best_bid !== null && m.best_ask !== null) {
    const band = scale.appendChild(el("div", null, "band"));
    band.style.left = pct(m.best_bid);
    band.style.width = `${Math.max(0.4, (Number(m.best_ask) - Number(m.best_bid)) * 100).toFixed(2)}%`;
  }
  if (m.fair !== null) {
    const mark = scale.appendChild(el("div", null, "fair-mark"));
    mark.style.left = pct(m.fair);
    mark.title = `fair value ${m.fair}`;
  }
  for (const [label, pos] of [["0", "0%"], ["0.50", "50%"], ["1", "100%"]]) {
    const tick = scale.appendChild(el("span", label, "tick"));
    tick.style.left = pos;
  }
  return scale;
}

function ladder(m) {
  const table = el("table", null, "ladder");
  const head = el("tr");
  for (const label of ["bid size", "YES price", "ask size"]) head.appendChild(el("th", label, "num"));
  table.appendChild(el("thead")).appendChild(head);
  const body = table.appendChild(el("tbody"));
  for (const level of [...m.asks].reverse()) {
    const tr = body.appendChild(el("tr", null, "ask"));
    tr.append(el("td", "", "num"), el("td", level.price, "num price"), el("td", level.size, "num size"));
  }
  if (!m.asks.length) body.appendChild(el("tr", null, "ask")).appendChild(el("td", "no asks", "muted empty")).colSpan = 3;
  if (!m.bids.length) body.appendChild(el("tr", null, "bid")).appendChild(el("td", "no bids", "muted empty")).colSpan = 3;
  for (const level of m.bids) {
    const tr = body.appendChild(el("tr", null, "bid"));
    tr.append(el("td", level.size, "num size"), el("td", level.price, "num price"), el("td", "", "num"));
  }
  return table;
}

function fact(label, value, cls) {
  const row = el("div", null, "fact");
  row.append(el("span", label, "label"), el("span", value, `value ${cls || ""}`));
  return row;
}

function marketCard(m) {
  const card = el("article", null, "market");
  const head = card.appendChild(el("div", null, "market-head"));
  head.appendChild(el("h3", m.ticker));
  const bookCls = m.book.state === "ok" ? "badge ok" : "badge bad";
  const badge = head.appendChild(el("span", `book ${m.book.state}`, bookCls));
  if (m.book.note) badge.title = m.book.note;
  card.appendChild(el("div", `${m.strike} · closes ${shortTime(m.close)} · ${m.to_close === "closed" ? "closed" : "in " + m.to_close}`, "sub muted"));

  const quotes = card.appendChild(el("div", null, "quotes"));
  const bidSize = m.bids.length ? ` ×${m.bids[0].size}` : "";
  const askSize = m.asks.length ? ` ×${m.asks[0].size}` : "";
  quotes.append(
    fact("bid", m.best_bid === null ? "-" : `${m.best_bid}${bidSize}`, "bid"),
    fact("fair", m.fair === null ? "-" : m.fair, "fair"),
    fact("ask", m.best_ask === null ? "-" : `${m.best_ask}${askSize}`, "ask"),
  );
  card.appendChild(priceScale(m));
  if (m.edge_buy !== null || m.edge_sell !== null) {
    card.appendChild(el("div", `fair − ask ${m.edge_buy ?? "-"} · bid − fair ${m.edge_sell ?? "-"} (before fees)`, "muted edge"));
  }

  const side = card.appendChild(el("div", null, "market-side"));

  const w = m.window;
  const win = side.appendChild(el("div", null, "window"));
  win.appendChild(el("div", "settlement window", "label"));
  if (w.opens_in) {
    win.appendChild(el("div", `opens in ${w.opens_in}`, "value"));
  } else {
    win.appendChild(el("div", `${w.samples} / ${w.of} samples`, "value"));
    win.appendChild(el("div", w.average ? `average so far ${w.average}` : "no sample yet", "muted"));
  }
  const bar = win.appendChild(el("div", null, "progress"));
  bar.appendChild(el("div", null, "filled")).style.width = `${((100 * w.samples) / w.of).toFixed(1)}%`;

  const ix = m.index;
  const age = ix.age_s === null ? "no print" : `${ix.age_s.toFixed(1)} s old`;
  const index = side.appendChild(fact("index", ix.value || "-", ix.stale ? "neg" : ""));
  index.appendChild(el("div", `${ix.source} · ${age}${ix.stale ? " · STALE" : ""}`, ix.stale ? "neg small" : "muted small"));
  for (const [venue, health] of Object.entries(m.feeds || {})) {
    index.appendChild(el("div", `feed ${venue}: ${health}`, health === "ok" || health === "live" ? "muted small" : "neg small"));
  }
  side.appendChild(fact("position", sideOf(m.position_raw, m.position)));
  card.appendChild(ladder(m));
  return card;
}

function renderMarkets(payload) {
  renderEngine(payload.engine);
  if (payload.data_time) renderUpdated(payload.data_time, "");
  const summary = document.getElementById("markets-summary");
  summary.replaceChildren();
  const engine = payload.engine;
  const first = payload.markets[0];
  const line = [
    `${payload.markets.length} market${payload.markets.length === 1 ? "" : "s"}`,
    engine ? engine.text : "no engine heartbeat in this database",
    payload.data_time ? `as of ${shortTime(payload.data_time)} (market time)` : "",
    first && first.index.value ? `index ${first.index.value} (${first.index.source})` : "",
  ].filter(Boolean).join(" · ");
  summary.appendChild(el("p", line, engine && engine.state === "running" ? "" : "warn-text"));
  const container = document.getElementById("markets");
  container.replaceChildren();
  if (!payload.markets.length) {
    container.appendChild(el("p", "no live markets published (the engine writes them while it runs)", "muted"));
    return;
  }
  for (const m of payload.markets) container.appendChild(marketCard(m));
}

let stream = null;
// The stream opens a moment after the first snapshot is drawn: the page is complete without it (and a
// headless browser taking a screenshot with a virtual-time budget is not held up by a never-ending fetch).
const STREAM_DELAY_MS = 1000;

async function startMarkets() {
  try {
    renderMarkets(await getJson("/api/markets"));
  } catch (err) {
    showBanner("error-banner", err.message);
  }
  setTimeout(openStream, STREAM_DELAY_MS);
}

function openStream() {
  if (stream || !window.EventSource) return;
  stream = new EventSource("/api/markets/stream");
  stream.addEventListener("markets", (event) => {
    showBanner("error-banner", "");
    renderMarkets(JSON.parse(event.data));
  });
  stream.addEventListener("db_error", (event) => showBanner("error-banner", JSON.parse(event.data).error));
}

// -- the account view -----------------------------------------------------------------------------

// The engine writes a P&L snapshot every few seconds; the curve is fetched again only when a newer one exists.
let chartDrawnFor = undefined;

function accountVisible() {
  return !document.getElementById("account-view").hidden;
}

async function refresh() {
  const by = document.getElementById("pnl-by").value;
  try {
    const status = await getJson("/api/status");
    if (!accountVisible()) {
      renderStatus(status, null);
      return;
    }
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

// -- views ----------------------------------------------------------------------------------------

function showView() {
  const view = location.hash === "#account" ? "account" : "markets";
  document.getElementById("markets-view").hidden = view !== "markets";
  document.getElementById("account-view").hidden = view !== "account";
  document.getElementById("tab-markets").className = view === "markets" ? "active" : "";
  document.getElementById("tab-account").className = view === "account" ? "active" : "";
  if (view === "account") refresh();
}

window.addEventListener("hashchange", showView);

// -- the controls (halt / resume behind the token) ------------------------------------------------

function showControls(authorized) {
  document.getElementById("unlock").hidden = authorized;
  document.getElementById("unlocked").hidden = !authorized;
}

async function control(path, payload, done) {
  try {
    flash(done(await post(path, payload)));
  } catch (err) {
    if (err.status === 401 || err.status === 403) showControls(false);
    flash(`${path.slice(5)} failed: ${err.message}`);
  }
  refresh();
}

document.getElementById("unlock").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  try {
    await post("/api/login", { token: input.value });
    showControls(true);
    flash("controls unlocked for this browser session");
  } catch (err) {
    flash(`not unlocked: ${err.message}`);
  }
  input.value = "";
});

document.getElementById("lock").addEventListener("click", async () => {
  await post("/api/logout", {}).catch(() => null);
  showControls(false);
});

document.getElementById("halt").addEventListener("click", () => {
  const reason = window.prompt("Halt trading. Reason (shown by kxbtc status):", "manual halt by the operator");
  if (reason === null) return;
  if (!reason.trim()) {
    flash("not halted: a halt needs a reason");
    return;
  }
  control("/api/halt", { reason: reason.trim() }, (result) =>
    result.previous ? `already halted (${result.previous}); reason now: ${result.reason}` : `trading halted: ${result.reason}`);
});

document.getElementById("resume").addEventListener("click", () => {
  if (!window.confirm("Resume trading? (Only the manual switch; automatic breakers re-arm by their own rules.)")) return;
  control("/api/resume", {}, (result) =>
    result.resumed ? `trading resumed (was halted: ${result.was})` : "trading was not halted; nothing to do");
});

document.getElementById("pnl-by").addEventListener("change", refresh);

getJson("/api/session").then((s) => showControls(s.authorized)).catch(() => showControls(false));
showView();
startMarkets();
loop();
