// The walkout dashboard: plain JavaScript, no library, no network access but this server.
// Every call sends the bearer token typed into the sign-in field (kept in sessionStorage);
// the live floor reads the server-sent-event stream /live through fetch (EventSource cannot
// send an Authorization header).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const KNOWN = new Set(["session", "account", "status", "confidence", "total_cents", "lines",
  "reasons", "entry_ns", "exit_ns", "decided_ns", "issued_ns", "published", "draft", "currency",
  "version", "since_ns", "deadline_ns", "escalated", "overdue", "audit"]);
let token = sessionStorage.getItem("walkout-token") || "";
let layout = null;
let dwell = {};
let liveRunning = false;

function $(id) { return document.getElementById(id); }

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function svgEl(tag, attrs = {}, text = "") {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

function money(cents, currency) {
  return cents === null || cents === undefined ? "-" : (cents / 100).toFixed(2) + " " + (currency || "");
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, options = {}) {
  const headers = Object.assign({ "Authorization": "Bearer " + token }, options.headers || {});
  const reply = await fetch(path, Object.assign({}, options, { headers }));
  const body = await reply.json();
  if (!reply.ok) throw new Error(path + ": " + reply.status + " " + (body.error || ""));
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" } });
}

// --- the floor -------------------------------------------------------------------------------

function points(polygon) {
  return polygon.map(([x, y]) => x + "," + (layout.floor.depth - y)).join(" ");
}

function drawLayout() {
  const svg = $("floor");
  svg.replaceChildren();
  svg.setAttribute("viewBox", "0 0 " + layout.floor.width + " " + layout.floor.depth);
  svg.appendChild(svgEl("rect", { x: 0, y: 0, width: layout.floor.width,
    height: layout.floor.depth, fill: "#fbfcfd" }));
  for (const gate of layout.gates) {
    svg.appendChild(svgEl("polygon", { points: points(gate.polygon), class: "gate-" + gate.kind }));
  }
  const most = Math.max(1, ...Object.values(dwell));
  for (const shelf of layout.shelves) {
    const heat = (dwell[shelf.id] || 0) / most;  // the dwell heat map, per shelf
    const fill = "rgba(181, 71, 8, " + (0.08 + 0.7 * heat).toFixed(3) + ")";
    svg.appendChild(svgEl("polygon", { points: points(shelf.polygon), class: "shelf", fill,
      "data-shelf": shelf.id }));
    const [x, y] = shelf.polygon[0];
    svg.appendChild(svgEl("text", { x, y: layout.floor.depth - y + 0.4, class: "label" }, shelf.id));
  }
  svg.appendChild(svgEl("g", { id: "shoppers" }));
}

function drawShoppers(frame) {
  const group = $("shoppers");
  if (!group) return;
  group.replaceChildren();
  for (const s of frame.shoppers) {
    const y = layout.floor.depth - s.y;
    group.appendChild(svgEl("circle", { cx: s.x, cy: y, r: 0.25, class: "shopper",
      "data-session": s.session, "data-account": s.account }));
    group.appendChild(svgEl("text", { x: s.x + 0.3, y: y - 0.2, class: "label" }, s.account));
  }
  $("floor-count").textContent = frame.shoppers.length + " in the store";
}

async function live() {
  if (liveRunning) return;
  liveRunning = true;
  while (token) {
    try {
      const reply = await fetch("/live", { headers: { "Authorization": "Bearer " + token } });
      if (!reply.ok) throw new Error("/live: " + reply.status);
      const reader = reply.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const chunk = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (chunk.startsWith("data: ")) drawShoppers(JSON.parse(chunk.slice(6)));
        }
      }
    } catch (err) {
      showError(String(err));
    }
    await new Promise((done) => setTimeout(done, 1000));
  }
  liveRunning = false;
}

// --- the review queue ------------------------------------------------------------------------

function reviewItem(r) {
  const box = el("div", { class: "review-item" + (r.escalated ? " escalated" : ""),
    "data-session": r.session });
  const head = el("div");
  head.appendChild(el("strong", {}, r.account));
  head.appendChild(document.createTextNode(" " + money(r.total_cents, r.currency) +
    " · confidence " + r.confidence.toFixed(2) + " "));
  if (r.escalated) head.appendChild(el("span", { class: "tag escalated" }, "escalated"));
  const left = Math.round((r.deadline_ns - Date.now() * 1e6) / 1e9);
  head.appendChild(el("span", { class: "tag" }, left >= 0 ? "deadline in " + left + " s" : "overdue " + (-left) + " s"));
  box.appendChild(head);
  const why = el("ul", { class: "reasons" });
  for (const reason of r.reasons) why.appendChild(el("li", {}, reason));
  box.appendChild(why);
  const extra = Object.fromEntries(Object.entries(r).filter(([k]) => !KNOWN.has(k)));
  if (Object.keys(extra).length) {  // structured evidence, whatever the row carries
    const details = el("details", { class: "evidence" });
    details.appendChild(el("summary", {}, "evidence"));
    details.appendChild(el("pre", { class: "evidence" }, JSON.stringify(extra, null, 1)));
    box.appendChild(details);
  }
  const lines = el("div", { class: "lines" });
  for (const line of r.lines) {
    const row = el("label", {}, line.sku + " ");
    const qty = el("input", { type: "number", min: 0, max: 1000, value: line.qty,
      "data-sku": line.sku, class: "qty" });
    row.appendChild(qty);
    lines.appendChild(row);
  }
  box.appendChild(lines);
  const actions = el("div", { class: "actions" });
  const confirm = el("button", { class: "confirm", type: "button" }, "Confirm");
  confirm.addEventListener("click", () => decide(r.session, "confirm", {}));
  const correct = el("button", { class: "correct secondary", type: "button" }, "Correct");
  correct.addEventListener("click", () => {
    const edited = [...box.querySelectorAll("input.qty")].map((i) =>
      ({ sku: i.dataset.sku, qty: parseInt(i.value || "0", 10) }));
    decide(r.session, "correct", { lines: edited });
  });
  actions.append(confirm, correct);
  box.appendChild(actions);
  return box;
}

async function decide(session, action, body) {
  try {
    await post("/review/" + encodeURIComponent(session) + "/" + action, body);
    showError("");
  } catch (err) {
    showError(String(err));
  }
  await refresh();
}

// --- charts ----------------------------------------------------------------------------------

function bars(svgId, entries, format) {
  const svg = $(svgId);
  svg.replaceChildren();
  const w = 300, h = 170, pad = 22;
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  const max = Math.max(1e-9, ...entries.map(([, v]) => v || 0));
  const step = (w - pad) / Math.max(1, entries.length);
  entries.forEach(([label, value], i) => {
    const bh = ((value || 0) / max) * (h - 2 * pad);
    const x = pad + i * step + step * 0.15;
    svg.appendChild(svgEl("rect", { x, y: h - pad - bh, width: step * 0.7, height: bh, class: "bar" }));
    svg.appendChild(svgEl("text", { x, y: h - 8, class: "axis" }, label));
    svg.appendChild(svgEl("text", { x, y: h - pad - bh - 3, class: "axis" }, format(value)));
  });
}

function drawAnalytics(a) {
  const shelves = Object.entries(a.shelves);
  dwell = Object.fromEntries(shelves.map(([id, s]) => [id, s.dwell_s]));
  bars("chart-conversion", shelves.map(([id, s]) => [id, s.conversion]),
    (v) => v === null || v === undefined ? "-" : Math.round(100 * v) + "%");
  bars("chart-dwell", shelves.map(([id, s]) => [id, s.dwell_s]), (v) => Math.round(v));
  const hours = Object.entries(a.by_hour);
  bars("chart-traffic", hours.map(([hour, h]) => [hour.slice(11, 13) + "h", h.sessions]), String);
  bars("chart-basket", hours.map(([hour, h]) => [hour.slice(11, 13) + "h", h.basket_cents.mean]),
    (v) => money(v, a.currency));
}

// --- tables ----------------------------------------------------------------------------------

function row(cells) {
  const tr = el("tr");
  for (const c of cells) tr.appendChild(el("td", {}, String(c)));
  return tr;
}

function drawReceipts(receipts) {
  const body = $("receipts").querySelector("tbody");
  body.replaceChildren(...receipts.slice(-30).reverse().map((r) => {
    const tr = row([r.account, r.status, r.version, r.lines.map((l) => l.qty + "× " + l.sku).join(", ") || "(nothing)",
      money(r.total_cents, r.currency), r.confidence.toFixed(2)]);
    tr.setAttribute("data-session", r.session);
    tr.setAttribute("data-status", r.status);
    return tr;
  }));
}

function drawHealth(status) {
  const body = $("health").querySelector("tbody");
  const rows = [];
  for (const [src, h] of Object.entries(status.sources || {})) {
    const spool = h.spool_fill === null ? "-" : Math.round(100 * h.spool_fill) + "%" + (h.spool_full ? " FULL" : "");
    const p95 = h.latency_p95_ms === null ? "-" : h.latency_p95_ms.toFixed(1) + " ms";
    const clock = h.clock_skewed ? "skewed" : "ok";
    const cams = h.cameras.length ? h.cameras : [{ camera: "-", fps: "-", dropped: "-", reconnects: "-" }];
    for (const c of cams) {
      rows.push(row([src, c.camera, typeof c.fps === "number" ? c.fps.toFixed(1) : c.fps, c.dropped, c.reconnects, spool, p95, clock]));
    }
  }
  body.replaceChildren(...rows);
  const d = status.delivery;
  $("delivery").textContent = "events " + status.events + " · receipts delivered " + d.delivered +
    ", pending " + d.pending + (d.webhook ? ", webhook failures " + d.failures : " (no webhook)");
}

// --- the loop --------------------------------------------------------------------------------

async function refresh() {
  if (!token) return;
  try {
    const [queue, receipts, analytics, status] = await Promise.all([
      api("/review"), api("/receipts"), api("/analytics"), api("/status")]);
    $("review-count").textContent = queue.length + " waiting";
    const list = $("review-list");
    const editing = document.activeElement && document.activeElement.tagName === "INPUT";
    if (!(editing && list.contains(document.activeElement))) {  // not while one types a qty
      list.replaceChildren(...queue.map(reviewItem));
    }
    drawReceipts(receipts);
    drawAnalytics(analytics);
    drawHealth(status);
    if (layout) {
      const shoppers = $("shoppers");
      const saved = shoppers ? [...shoppers.childNodes] : [];
      drawLayout();
      $("shoppers").append(...saved);
    }
    showError("");
  } catch (err) {
    showError(String(err));
  }
}

async function signIn() {
  try {
    const me = await api("/whoami");
    $("whoami").textContent = me.name + " (" + me.role + ")";
    sessionStorage.setItem("walkout-token", token);
    const floor = await api("/floor");
    layout = floor;
    $("store-name").textContent = "· " + floor.name;
    drawLayout();
    drawShoppers(floor);
    await refresh();
    live();
  } catch (err) {
    $("whoami").textContent = "not signed in";
    showError(String(err));
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  signIn();
});
setInterval(refresh, 2000);
if (token) signIn();
