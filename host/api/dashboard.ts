// The dashboard served at "/": one self-contained page (inline style and
// script, SVG plots, nothing fetched from elsewhere) that polls /api/cluster
// and /api/stats once a second, keeps the last few minutes in the browser,
// and lists the latest events from the /api/events WebSocket.
// "?interval=ms" changes the polling period (tests use a short one).
// Data reaches the page through textContent and SVG attributes only, never
// as markup.

const STYLE = `
:root { --bg:#0f1419; --panel:#182029; --fg:#d8dee6; --dim:#8a96a3; --ok:#4caf7a; --warn:#e0b341; --bad:#e0574f;
        --c1:#5aa9e6; --c2:#e6935a; --c3:#9b7be6; --c4:#4caf7a; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:1.5em; align-items:baseline; padding:.8em 1.2em; background:var(--panel); }
header h1 { font-size:1.2em; margin:0; }
.dim { color:var(--dim); }
main { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:1em; padding:1em; }
section { background:var(--panel); border-radius:6px; padding:.8em 1em; }
section h2 { font-size:1em; margin:0 0 .6em; color:var(--dim); font-weight:600; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(120px, 1fr)); gap:.6em; }
.card .v { font-size:1.5em; font-variant-numeric:tabular-nums; }
.card .k { color:var(--dim); font-size:.85em; }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:.25em .4em; border-bottom:1px solid #2a3440; white-space:nowrap; }
th { color:var(--dim); font-weight:500; }
.RUNNING { color:var(--ok); } .NO-CARRIER { color:var(--warn); } .DOWN { color:var(--bad); }
.ACTIVE { font-weight:700; }
svg.plot { width:100%; height:160px; background:#11181f; border-radius:4px; }
svg.plot text { fill:var(--dim); font-size:10px; }
.legend span { margin-right:1em; font-size:.85em; }
.legend i { display:inline-block; width:10px; height:10px; margin-right:.3em; border-radius:2px; }
#events { list-style:none; margin:0; padding:0; max-height:320px; overflow:auto; font:12px/1.5 ui-monospace, monospace; }
#events li { border-bottom:1px solid #222b35; white-space:nowrap; }
#events .t-ct-new, #events .t-exp-new { color:var(--ok); } #events .t-ct-destroy, #events .t-exp-destroy { color:var(--bad); }
#events .t-link { color:var(--warn); } #events .t-commit { color:var(--c3); }
#live.on { color:var(--ok); } #live.off { color:var(--bad); }
`;

// The page's script, plain ES2020 run by the browser.
const SCRIPT = String.raw`
"use strict";
const params = new URLSearchParams(location.search);
const INTERVAL = Math.max(100, Number(params.get("interval")) || 1000);
const KEEP = 180;           // points kept per series
const MAX_EVENTS = 100;     // lines kept in the event list
const $ = (id) => document.getElementById(id);
const history = { t: [], internal: [], external: [], events: [], sent: [], recv: [] };
let previous = null;

const fmt = (n) => n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
const rate = (n) => n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);

function setText(id, v) { const e = $(id); if (e) e.textContent = v; }

function uptime(start) {
  let s = Math.max(0, Math.floor(Date.now() / 1000 - start));
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "min";
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}

function renderLinks(links) {
  const body = $("links").tBodies[0];
  body.replaceChildren();
  for (const l of links) {
    const tr = document.createElement("tr");
    tr.className = "link";
    tr.dataset.device = l.device;
    cell(tr, String(l.index));
    cell(tr, l.type);
    cell(tr, l.device);
    cell(tr, l.status, l.status);
    cell(tr, l.role, l.role);
    cell(tr, fmt(l.sent.messages));
    cell(tr, fmt(l.received.messages));
    cell(tr, fmt(l.sent.bytes));
    cell(tr, fmt(l.received.bytes));
    cell(tr, fmt(Number(l.sent.errors) + Number(l.received.errors)));
    body.appendChild(tr);
  }
}

function renderPeers(peers) {
  const body = $("peers").tBodies[0];
  body.replaceChildren();
  for (const p of peers) {
    const tr = document.createElement("tr");
    tr.className = "peer";
    cell(tr, p.address);
    cell(tr, String(p.link));
    cell(tr, p.greeted === undefined ? "–" : p.greeted ? "yes" : "no");
    cell(tr, p.lastSeen ? Math.max(0, Math.round((Date.now() - p.lastSeen) / 1000)) + "s ago" : "never");
    cell(tr, p.state || "–");
    body.appendChild(tr);
  }
  if (!peers.length) { const tr = document.createElement("tr"); cell(tr, "no peer known yet", "dim"); body.appendChild(tr); }
}

const SVGNS = "http://www.w3.org/2000/svg";
function plot(svg, series) {
  const W = 600, H = 160, L = 46, R = 6, T = 8, B = 16;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.replaceChildren();
  let max = 0, n = 0;
  for (const s of series) { n = Math.max(n, s.values.length); for (const v of s.values) max = Math.max(max, v); }
  max = max > 0 ? max * 1.1 : 1;
  const axis = (y, label) => {
    const line = document.createElementNS(SVGNS, "line");
    line.setAttribute("x1", L); line.setAttribute("x2", W - R); line.setAttribute("y1", y); line.setAttribute("y2", y);
    line.setAttribute("stroke", "#2a3440");
    svg.appendChild(line);
    const t = document.createElementNS(SVGNS, "text");
    t.setAttribute("x", L - 4); t.setAttribute("y", y + 3); t.setAttribute("text-anchor", "end");
    t.textContent = label;
    svg.appendChild(t);
  };
  axis(T, rate(max)); axis((T + H - B) / 2, rate(max / 2)); axis(H - B, "0");
  const x = (i, len) => L + (W - L - R) * (KEEP - len + i) / (KEEP - 1); // newest point at the right edge
  const y = (v) => T + (H - B - T) * (1 - v / max);
  for (const s of series) {
    const pl = document.createElementNS(SVGNS, "polyline");
    pl.setAttribute("class", "series");
    pl.setAttribute("data-name", s.name);
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", s.color);
    pl.setAttribute("stroke-width", "1.6");
    pl.setAttribute("points", s.values.map((v, i) => x(i, s.values.length).toFixed(1) + "," + y(v).toFixed(1)).join(" "));
    svg.appendChild(pl);
  }
}

function push(key, v) { const a = history[key]; a.push(v); if (a.length > KEEP) a.shift(); }

async function getJson(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

async function poll() {
  try {
    const [cluster, stats] = await Promise.all([getJson("/api/cluster"), getJson("/api/stats")]);
    const now = Date.now();
    const runtime = stats.runtime.runtime, network = stats.general.network;
    const sent = cluster.links.reduce((a, l) => a + Number(l.sent.messages), 0);
    const recv = cluster.links.reduce((a, l) => a + Number(l.received.messages), 0);
    const sample = { now, events: Number(runtime.eventsReceived), sent, recv };
    setText("mode", cluster.mode.toUpperCase());
    setText("uptime", uptime(cluster.startTime));
    setText("cache-internal-ct", fmt(cluster.caches.internal.ct));
    setText("cache-external-ct", fmt(cluster.caches.external.ct));
    setText("cache-internal-expect", fmt(cluster.caches.internal.expect));
    setText("cache-external-expect", fmt(cluster.caches.external.expect));
    setText("msgs-lost", fmt(network.recvLost));
    setText("msgs-malformed", fmt(network.recvMalformed));
    setText("rsqueue", cluster.resendQueue ? fmt(cluster.resendQueue.length) : "–");
    setText("overruns", fmt(runtime.netlinkOverrun));
    setText("last-commit", cluster.lastCommit ? cluster.lastCommit.committed + " in " + cluster.lastCommit.seconds.toFixed(3) + "s" : "none");
    renderLinks(cluster.links);
    renderPeers(cluster.peers);
    push("internal", cluster.caches.internal.ct);
    push("external", cluster.caches.external.ct);
    if (previous) {
      const dt = Math.max(0.001, (now - previous.now) / 1000);
      const r = (k) => Math.max(0, (sample[k] - previous[k]) / dt);
      push("events", r("events")); push("sent", r("sent")); push("recv", r("recv"));
      setText("rate-events", rate(r("events")));
      setText("rate-sent", rate(r("sent")));
      setText("rate-recv", rate(r("recv")));
    }
    previous = sample;
    plot($("plot-cache"), [
      { name: "internal", color: "var(--c1)", values: history.internal },
      { name: "external", color: "var(--c2)", values: history.external },
    ]);
    plot($("plot-rates"), [
      { name: "events", color: "var(--c3)", values: history.events },
      { name: "sent", color: "var(--c1)", values: history.sent },
      { name: "received", color: "var(--c4)", values: history.recv },
    ]);
    setText("updated", new Date(now).toLocaleTimeString());
    document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
  } catch (e) {
    setText("updated", "error: " + e.message);
  } finally {
    setTimeout(poll, INTERVAL);
  }
}

function tuple(x) {
  if (!x) return "";
  const port = (a, p) => p === undefined ? a : (a.includes(":") ? "[" + a + "]" : a) + ":" + p;
  return port(x.src, x.sport) + " → " + port(x.dst, x.dport);
}
const PROTO = { 1: "icmp", 6: "tcp", 17: "udp", 33: "dccp", 58: "icmpv6", 132: "sctp" };

function describe(e) {
  if (e.type.startsWith("ct-")) return e.cache + " " + (PROTO[e.ct.l4proto] || e.ct.l4proto) + " " + tuple(e.ct);
  if (e.type.startsWith("exp-")) return e.cache + " " + (e.exp.helper || "") + " " + tuple(e.exp.expected);
  if (e.type === "link") return "link " + e.link + " " + e.what + (e.peer ? " " + e.peer : "") + (e.message ? ": " + e.message : "");
  if (e.type === "commit") return e.kinds + ": " + e.result.status + ", " + e.result.committed + " committed, " + e.result.failed + " failed, " + e.result.seconds.toFixed(3) + "s";
  if (e.type === "dropped") return e.count + " events lost (the server's queue was full)";
  return "";
}

let eventCount = 0;
function addEvent(e) {
  if (e.type === "hello") return;
  const li = document.createElement("li");
  li.className = "event t-" + e.type;
  li.textContent = new Date(e.at).toLocaleTimeString() + "  " + e.type.padEnd(11) + " " + describe(e);
  const list = $("events");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  eventCount++;
  setText("event-count", fmt(eventCount));
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/events");
  ws.onopen = () => { $("live").className = "on"; setText("live", "live"); };
  ws.onmessage = (m) => { try { addEvent(JSON.parse(m.data)); } catch (_) { /* not ours */ } };
  ws.onclose = (c) => {
    $("live").className = "off";
    setText("live", "disconnected, reconnecting");
    setTimeout(connect, 2000);
  };
}

poll();
connect();
`;

const card = (id: string, label: string) => `<div class="card"><div class="v" id="${id}">–</div><div class="k">${label}</div></div>`;
const legend = (items: [string, string][]) =>
  `<div class="legend">${items.map(([c, n]) => `<span><i style="background:var(${c})"></i>${n}</span>`).join("")}</div>`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ctsync</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>ctsync</h1>
  <span>mode <b id="mode">–</b></span>
  <span>up <b id="uptime">–</b></span>
  <span>events <b id="live" class="off">connecting</b></span>
  <span class="dim">updated <span id="updated">–</span></span>
</header>
<main>
  <section>
    <h2>Caches</h2>
    <div class="cards">
      ${card("cache-internal-ct", "internal flows")}
      ${card("cache-external-ct", "external flows")}
      ${card("cache-internal-expect", "internal expectations")}
      ${card("cache-external-expect", "external expectations")}
    </div>
    <svg id="plot-cache" class="plot" role="img" aria-label="cache sizes over time"></svg>
    ${legend([["--c1", "internal flows"], ["--c2", "external flows"]])}
  </section>
  <section>
    <h2>Rates (per second)</h2>
    <div class="cards">
      ${card("rate-events", "kernel events/s")}
      ${card("rate-sent", "messages sent/s")}
      ${card("rate-recv", "messages received/s")}
      ${card("msgs-lost", "messages lost")}
      ${card("msgs-malformed", "malformed")}
      ${card("overruns", "netlink overruns")}
    </div>
    <svg id="plot-rates" class="plot" role="img" aria-label="event and message rates over time"></svg>
    ${legend([["--c3", "kernel events"], ["--c1", "sent"], ["--c4", "received"]])}
  </section>
  <section>
    <h2>Links</h2>
    <table id="links">
      <thead><tr><th>#</th><th>type</th><th>device</th><th>status</th><th>role</th><th>msgs sent</th><th>msgs recv</th><th>bytes sent</th><th>bytes recv</th><th>errors</th></tr></thead>
      <tbody></tbody>
    </table>
    <div class="cards" style="margin-top:.8em">
      ${card("rsqueue", "resend queue")}
      ${card("last-commit", "last commit")}
    </div>
    <h2 style="margin-top:.8em">Peers</h2>
    <table id="peers">
      <thead><tr><th>address</th><th>link</th><th>greeted</th><th>last seen</th><th>state</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Latest events (<span id="event-count">0</span>)</h2>
    <ul id="events"></ul>
  </section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
