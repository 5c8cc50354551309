// app.mjs: fetches every node's view and history and draws the page.
// Every string that comes from a node is set with textContent or
// setAttribute, never parsed as markup: a hostile node can only show text.

import {
  LABELS,
  circleLayout,
  codeSpans,
  clusterVerdicts,
  consensus,
  dailyUptime,
  formatAge,
  formatDuration,
  graphEdges,
  historyKey,
  incidents,
  maintenanceText,
  matrix,
  nodesFromState,
  parseNodeList,
  summarize,
  targetConsensus,
  targetNames,
  troubleFirst,
  uptimeFigures,
  validateHistory,
  validateMessages,
  validateState,
} from "./mesh.mjs";

const params = new URLSearchParams(location.search);
const refreshSeconds = Math.min(Math.max(Number(params.get("refresh")) || 10, 1), 3600);
const FETCH_TIMEOUT_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";
// Above this many nodes the graph's arrows cross past reading: the matrix
// is shown first.
const GRAPH_MAX_NODES = 6;
const MAX_INCIDENTS_SHOWN = 100;
// Where the latest chat messages are (mesh demo's chat); none: no section.
const messagesURL = params.get("messages");

/** el builds an element; attrs are set as attributes, children appended as nodes or text. */
function el(tag, attrs = {}, ...children) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function fetchJSON(url) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const res = await fetch(url, { signal: ctl.signal, cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      const err = new Error("not JSON");
      err.malformed = true;
      throw err;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Which nodes to show: ?nodes=, else config.json beside the page, else the node serving it. */
async function resolveNodes() {
  if (params.get("nodes")) return { nodes: parseNodeList(params.get("nodes"), location.protocol), source: "?nodes=" };
  try {
    const cfg = await fetchJSON("config.json");
    if (cfg && Array.isArray(cfg.nodes)) return { nodes: parseNodeList(cfg.nodes, location.protocol), source: "config.json" };
  } catch {
    // No config.json: perhaps a node serves this page.
  }
  try {
    const own = validateState(await fetchJSON("../state?relays=none"));
    return { nodes: nodesFromState(own, location.origin, location.protocol), source: `the node ${own.node}` };
  } catch {
    return { nodes: [], source: null };
  }
}

/**
 * What the page knows, kept between refreshes. A refresh reads each node's
 * own view (/state?relays=none: no relayed views, so it does not grow with
 * the square of the cluster), a node's /history only when a transition
 * shows in its view, and relayed views only of nodes the browser cannot
 * reach, from one node that has them.
 */
const known = {
  results: new Map(), // name -> {node, state, problem, malformed, historyProblem}
  histories: new Map(), // name -> {key, history}
  messages: null, // the latest chat messages, newest first (?messages=)
  messagesProblem: null,
  relaySource: null, // name -> full /state of one node, while some node is unreachable
};

/** Reads one node's own view, and its history if a transition happened since the last read. */
async function refreshNode(node) {
  const out = { node, state: null, problem: null, malformed: false, historyProblem: null };
  try {
    out.state = validateState(await fetchJSON(`${node.url}/state?relays=none`));
  } catch (err) {
    out.malformed = Boolean(err.malformed) || !(err instanceof TypeError || err.name === "AbortError" || /^HTTP/.test(err.message));
    out.problem = err.name === "AbortError" ? "timed out" : err.message;
    known.results.set(node.name, out);
    return;
  }
  known.results.set(node.name, out);
  const key = historyKey(out.state);
  const had = known.histories.get(node.name);
  if (had && had.key === key) {
    out.historyProblem = had.problem;
    return;
  }
  let h;
  try {
    h = await fetchJSON(`${node.url}/history`);
  } catch (err) {
    // Older nodes serve no history; uptime is then left out.
    if (!err.malformed) return;
    h = undefined;
  }
  try {
    known.histories.set(node.name, { key, history: validateHistory(h), problem: null });
  } catch (err) {
    out.historyProblem = err.message; // one bad history never takes the page down
    known.histories.set(node.name, { key, history: null, problem: err.message });
  }
}

/**
 * For the nodes the browser cannot reach, the views they relayed to one it
 * can: that node's whole /state. The last one read stays in use until the
 * next arrives, so that the page never blinks without them.
 */
async function refreshRelays(names) {
  const unreachable = names.filter((n) => !known.results.get(n)?.state);
  const reachable = names.filter((n) => known.results.get(n)?.state).sort();
  if (!unreachable.length || !reachable.length) {
    known.relaySource = null;
    return;
  }
  const source = known.results.get(reachable[0]);
  try {
    known.relaySource = { name: reachable[0], state: validateState(await fetchJSON(`${source.node.url}/state`)) };
  } catch {
    // Without relays, the unreachable nodes' views are left out.
    known.relaySource = null;
  }
}

/** The states to draw from: each node's own view, and the relays of one, where needed. */
function statesNow(names) {
  const states = new Map(names.map((n) => [n, known.results.get(n)?.state ?? null]));
  const src = known.relaySource;
  if (src && states.get(src.name)) states.set(src.name, { ...states.get(src.name), relay: src.state.relay });
  return states;
}

function percent(v) {
  return v === null || v === undefined ? "–" : `${(v * 100).toFixed(v >= 0.9995 ? 1 : 2)}%`;
}

function localTime(ms) {
  return new Date(ms).toLocaleString();
}

function statusBadge(status) {
  const l = LABELS[status] ?? LABELS.unknown;
  return el("span", { class: `badge ${status}` }, el("span", { "aria-hidden": "true" }, l.symbol), ` ${l.text}`);
}

/**
 * The cluster's own verdict on a node, as its peers report it, with the
 * vantage points; more than three of one side are counted, their names in
 * the title (the matrix shows them too), so that the line stays one line.
 */
function verdictLine(v) {
  if (!v) return "";
  const side = (word, names) => (names.length > 3 ? `${word} ${names.length} nodes` : `${word} ${names.join(", ")}`);
  const parts = [`cluster: ${v.status}`];
  if (v.downFrom.length) parts.push(side("down from", v.downFrom));
  if (v.upFrom.length && v.status !== "up") parts.push(side("up from", v.upFrom));
  const title = [v.downFrom.length ? `down from ${v.downFrom.join(", ")}` : "", v.upFrom.length ? `up from ${v.upFrom.join(", ")}` : ""].filter(Boolean).join("; ");
  return el("span", { class: `verdict ${v.status}`, "data-verdict": v.status, title }, parts.join(" · "));
}

/** 90 daily bars, one tab stop: arrow keys move between days, and what a day held shows below. */
function dayBars(name, days) {
  const info = el("p", { class: "day-info", "aria-live": "polite" }, "");
  const bars = el("div", { class: "days", role: "group", "aria-label": `${name}: uptime of each of the last ${days.length} days (UTC); arrow keys move between days` });
  const describe = (d) =>
    `${d.day}: ${d.uptime === null ? "no data" : `${percent(d.uptime)} up`}${d.outages ? `, ${d.outages} outage${d.outages > 1 ? "s" : ""}` : ""}` +
    `${d.maintained ? `, in maintenance ${formatDuration(d.maintained)} (not counted)` : ""}${d.planned ? `, ${d.planned} planned stop${d.planned > 1 ? "s" : ""}` : ""}`;
  const spans = days.map((d, i) => {
    // A day of planned work and no other trouble has a colour of its own.
    const cls = d.uptime === null ? (d.maintained ? "maintenance" : "none") : d.uptime >= 0.999 ? (d.maintained ? "maintenance" : "up") : d.uptime > 0 ? "partial" : "down";
    const text = describe(d);
    const s = el("span", { class: `day ${cls}`, "data-day": d.day, role: "img", "aria-label": text, title: text, tabindex: i === days.length - 1 ? 0 : -1 });
    const show = () => {
      info.textContent = text;
    };
    s.addEventListener("mouseenter", show);
    s.addEventListener("focus", show);
    return s;
  });
  bars.addEventListener("keydown", (ev) => {
    const i = spans.indexOf(document.activeElement);
    if (i < 0) return;
    const j = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: spans.length - 1 }[ev.key];
    if (j === undefined || j < 0 || j >= spans.length) return;
    ev.preventDefault();
    spans[i].setAttribute("tabindex", "-1");
    spans[j].setAttribute("tabindex", "0");
    spans[j].focus();
  });
  bars.append(...spans);
  return [bars, info];
}

function renderRows(names, verdicts, cluster, histories, perNode, now) {
  const list = document.getElementById("rows");
  // Many nodes: a node that is up takes one line, so that the matrix is
  // still on the first screen.
  list.classList.toggle("compact", names.length > GRAPH_MAX_NODES);
  const items = troubleFirst(names, verdicts).map((name) => {
    const v = verdicts[name];
    const r = known.results.get(name) ?? { state: null, problem: "not yet asked" };
    const why = el("span", { class: "why" }, r.malformed ? `sent a malformed /state, skipped; ${v.reason}` : v.reason);
    if (v.downFrom.length) why.setAttribute("title", `cannot reach it: ${v.downFrom.join(", ")}`);
    const up = uptimeFigures(name, histories, now);
    const [bars, info] = dayBars(name, dailyUptime(name, histories, now, 90, perNode.get(name) ?? []));
    const details = el("details", { class: "view" }, el("summary", {}, "its view"));
    // A node that calls itself by another name is misconfigured (or lying): say so where it shows.
    const alias = r.state && r.state.node !== name ? el("span", { class: "alias" }, "reports itself as ", el("code", {}, r.state.node)) : "";
    if (r.state) {
      const ul = el("ul");
      for (const [peer, pv] of Object.entries(r.state.peers)) ul.append(el("li", {}, el("code", {}, peer), " ", statusBadge(pv.status)));
      details.append(ul);
    } else {
      details.append(el("p", {}, r.problem ? `no answer: ${r.problem}` : "no answer"));
    }
    return el(
      "li",
      { class: `row ${v.status}`, "data-node": name, "data-status": v.status },
      el("span", { class: "head", title: v.reason }, statusBadge(v.status), " ", el("strong", { class: "name" }, name)),
      why,
      verdictLine(cluster[name]),
      alias,
      el("span", { class: "uptime" }, `24h ${percent(up["24h"])} · 7d ${percent(up["7d"])} · 30d ${percent(up["30d"])} · 90d ${percent(up["90d"])}`),
      bars,
      info,
      details,
    );
  });
  list.replaceChildren(...items);
}

function cellText(c) {
  const words = { up: "sees it up", down: "sees it down", stopped: "holds it stopped on purpose", unknown: "does not know it yet", none: "does not probe it", self: "" }[c.status] ?? c.status;
  const parts = [c.status === "maintenance" ? `${c.from} sees ${c.to} down, in maintenance` : `${c.from} ${words} ${c.to}`];
  if (c.maintenance) parts.push(maintenanceText(c.maintenance));
  if (c.since) parts.push(`since ${localTime(Date.parse(c.since))}`);
  if (c.since) parts.push(c.lastSeen ? `last seen ${localTime(Date.parse(c.lastSeen))}` : "never seen");
  if (c.rttMs !== null && c.rttMs !== undefined) parts.push(`round trip ${c.rttMs} ms`);
  if (c.relayed) parts.push(`relayed via ${c.via}, ${formatAge(c.age)} old`);
  return parts.join(" · ");
}

function renderMatrix(rows, caption = "Each row is what one node sees of every other; a dashed cell comes from a relay, with its age.", label = "who sees whom, as a matrix") {
  const head = el("tr", {}, el("th", { scope: "col", class: "corner" }, "observer ↓ sees →"));
  for (const c of rows[0]?.cells ?? []) head.append(el("th", { scope: "col", "data-node": c.to, title: c.to }, el("span", {}, c.to)));
  const body = rows.map((r) => {
    const tr = el("tr", { "data-from": r.from, class: r.isolated ? "isolated" : r.reachable ? "" : "relayed" });
    tr.append(el("th", { scope: "row", "data-node": r.from }, r.from, r.isolated ? " ⊘" : ""));
    for (const c of r.cells) {
      const label = LABELS[c.status] ?? LABELS.unknown;
      const text = c.status === "self" ? `${c.from} itself` : cellText(c);
      const td = el("td", { class: `cell ${c.status}${c.relayed ? " relayed" : ""}`, "data-from": c.from, "data-to": c.to, "data-status": c.status, title: text, "aria-label": text });
      td.append(el("span", { "aria-hidden": "true" }, label.symbol));
      if (c.relayed) td.append(el("span", { class: "age", "aria-hidden": "true" }, formatAge(c.age)));
      tr.append(td);
    }
    return tr;
  });
  const table = el("table", { class: "matrix" }, el("caption", {}, caption), el("thead", {}, head), el("tbody", {}, ...body));
  // One tab stop for the whole table: it scrolls sideways on a phone.
  return el("div", { class: "matrix-scroll", tabindex: 0, role: "region", "aria-label": label }, table);
}

function renderGraph(names, verdicts, edges) {
  const size = 420;
  const r = 22;
  const pos = circleLayout(names, size / 2, size / 2, size / 2 - 70);
  const svg = el("svg:svg", { viewBox: `0 0 ${size} ${size}`, role: "img", "aria-label": "who sees whom" });
  const defs = el("svg:defs");
  for (const s of ["up", "down", "unknown"]) {
    const m = el("svg:marker", { id: `arrow-${s}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    m.append(el("svg:path", { d: "M 0 0 L 10 5 L 0 10 z", class: `arrowhead ${s}` }));
    defs.append(m);
  }
  svg.append(defs);
  for (const e of edges) {
    const a = pos[e.from];
    const b = pos[e.to];
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const ux = dx / len;
    const uy = dy / len;
    // Both directions between two nodes are drawn, each bowed to its own side.
    const bow = 0.12 * len;
    const cx = (a.x + b.x) / 2 - uy * bow;
    const cy = (a.y + b.y) / 2 + ux * bow;
    const start = { x: a.x + ux * r - uy * 6, y: a.y + uy * r + ux * 6 };
    const end = { x: b.x - ux * (r + 2) - uy * 6, y: b.y - uy * (r + 2) + ux * 6 };
    const status = ["up", "down"].includes(e.status) ? e.status : "unknown";
    const path = el("svg:path", {
      d: `M ${start.x.toFixed(1)} ${start.y.toFixed(1)} Q ${cx.toFixed(1)} ${cy.toFixed(1)} ${end.x.toFixed(1)} ${end.y.toFixed(1)}`,
      class: `edge ${status}${e.relayed ? " relayed" : ""}`,
      "data-from": e.from,
      "data-to": e.to,
      "data-status": e.status,
      "marker-end": `url(#arrow-${status})`,
    });
    path.append(el("svg:title", {}, `${e.from} sees ${e.to} ${e.status}${e.relayed ? ` (relayed via ${e.via}, ${formatAge(e.age)} old)` : ""}`));
    svg.append(path);
    if (e.relayed) {
      svg.append(el("svg:text", { x: cx.toFixed(1), y: cy.toFixed(1), class: "age", "data-from": e.from, "data-to": e.to }, `relay ${formatAge(e.age)} old`));
    }
  }
  for (const name of names) {
    const p = pos[name];
    const status = verdicts[name].status;
    const g = el("svg:g", { class: `vertex ${status}`, "data-node": name });
    g.append(el("svg:circle", { cx: p.x, cy: p.y, r }));
    g.append(el("svg:text", { x: p.x, y: p.y + 5, class: "symbol", "text-anchor": "middle" }, LABELS[status].symbol));
    const below = p.y >= size / 2;
    g.append(el("svg:text", { x: p.x, y: below ? p.y + r + 16 : p.y - r - 8, class: "label", "text-anchor": "middle" }, name));
    svg.append(g);
  }
  return svg;
}

/** The view shown: ?view=, else the graph for a small cluster and the matrix for a larger one. */
let view = ["graph", "matrix"].includes(params.get("view")) ? params.get("view") : null;

function renderWhoSeesWhom(names, verdicts, states, now) {
  const current = view ?? (names.length > GRAPH_MAX_NODES ? "matrix" : "graph");
  const other = current === "matrix" ? "graph" : "matrix";
  const toggle = document.getElementById("view-toggle");
  toggle.textContent = `Show the ${other}`;
  toggle.dataset.view = current;
  const place = document.getElementById("graph");
  place.dataset.view = current;
  place.replaceChildren(current === "matrix" ? renderMatrix(matrix(names, states, now)) : renderGraph(names, verdicts, graphEdges(names, states, now)));
  document.getElementById("graph-legend").hidden = current !== "graph";
  document.getElementById("matrix-legend").hidden = current !== "matrix";
}

/**
 * The targets (Mesh's TARGETS), when any node watches one: a row each with
 * what the nodes see, the cluster's verdict, uptime and daily bars, and
 * the nodes-by-targets matrix.
 */
function renderTargets(names, targets, states, histories, perTarget, now) {
  const section = document.getElementById("targets-section");
  section.hidden = targets.length === 0;
  if (!targets.length) return;
  const seen = targetConsensus(targets, names, states);
  const cluster = clusterVerdicts(names, states, targets);
  document.getElementById("targets").classList.toggle("compact", targets.length > GRAPH_MAX_NODES);
  const items = troubleFirst(targets, seen).map((name) => {
    const v = seen[name];
    const up = uptimeFigures(name, histories, now, "targets");
    const [bars, info] = dayBars(name, dailyUptime(name, histories, now, 90, perTarget.get(name) ?? [], "targets"));
    const why = el("span", { class: "why" }, v.reason);
    if (v.downFrom.length) why.setAttribute("title", `cannot reach it: ${v.downFrom.join(", ")}`);
    return el(
      "li",
      { class: `row ${v.status}`, "data-target": name, "data-status": v.status },
      el("span", { class: "head" }, statusBadge(v.status), " ", el("strong", { class: "name" }, name)),
      why,
      verdictLine(cluster[name]),
      el("span", { class: "uptime" }, `24h ${percent(up["24h"])} · 7d ${percent(up["7d"])} · 30d ${percent(up["30d"])} · 90d ${percent(up["90d"])}`),
      bars,
      info,
    );
  });
  document.getElementById("targets").replaceChildren(...items);
  document.getElementById("targets-matrix").replaceChildren(
    renderMatrix(matrix(names, states, now, "targets", targets), "Each row is what one node sees of every target; a dashed cell comes from a relay, with its age.", "nodes by targets, as a matrix"),
  );
}

function renderIncidents(list, now) {
  const ol = document.getElementById("incidents");
  const shown = list.slice(0, MAX_INCIDENTS_SHOWN);
  const items = shown.map((i) =>
    el(
      "li",
      { "data-incident": i.node, "data-ongoing": String(i.ongoing), class: i.ongoing ? "ongoing" : "" },
      el("strong", {}, i.node),
      ` ${i.planned ? "down in maintenance" : "down"} ${localTime(i.start)} → ${i.ongoing ? "ongoing" : localTime(i.end)} `,
      el("span", { class: "duration" }, `(${formatDuration(i.ongoing ? now - i.start : i.duration)})`),
      el("span", { class: "seen" }, ` · seen by ${i.seenBy.join(", ")}`),
    ),
  );
  if (!list.length) items.push(el("li", { class: "none" }, "No outage in the last 90 days, as far as the nodes that answered remember."));
  if (list.length > shown.length) items.push(el("li", { class: "none" }, `and ${list.length - shown.length} older`));
  ol.replaceChildren(...items);
}

/** The latest messages the cluster sent to the chat, as `mesh demo` shows them. */
async function refreshMessages() {
  if (!messagesURL) return;
  try {
    known.messages = validateMessages(await fetchJSON(messagesURL));
    known.messagesProblem = null;
  } catch (err) {
    known.messagesProblem = err.message; // the last list read stays up
  }
}

function renderMessages() {
  const section = document.getElementById("messages-section");
  if (!messagesURL) return;
  section.hidden = false;
  const items = (known.messages ?? []).map((m) =>
    el("li", { "data-message": m.from }, el("time", { datetime: new Date(m.at).toISOString() }, localTime(m.at)), " ", el("strong", {}, m.from), " ", el("span", { class: "text" }, ...codeSpans(m.text).map((p) => (p.code ? el("code", {}, p.text) : p.text)))),
  );
  if (!items.length) items.push(el("li", { class: "none" }, "Nothing yet: the cluster says something when a node goes down, stays down, or comes back."));
  if (known.messagesProblem) items.unshift(el("li", { class: "malformed" }, `the chat could not be read (${known.messagesProblem})`));
  document.getElementById("messages").replaceChildren(...items);
}

function renderNotes(names, source) {
  const notes = [];
  const silent = [];
  for (const name of names) {
    const r = known.results.get(name);
    if (!r) continue;
    if (r.historyProblem) notes.push(el("li", { class: "malformed", "data-node": name }, el("code", {}, name), ` sent a malformed /history (${r.historyProblem}); its uptime is left out`));
    if (r.state) continue;
    if (r.malformed) notes.push(el("li", { class: "malformed", "data-node": name }, el("code", {}, name), ` sent a malformed /state (${r.problem}); skipped`));
    else silent.push(name);
  }
  if (silent.length) notes.unshift(el("li", { class: "silent" }, `did not answer: ${silent.join(", ")}`));
  if (source === null) notes.push(el("li", {}, "No nodes to show: add ?nodes=a.example,b.example to the address, or publish a config.json beside this page."));
  document.getElementById("notes").replaceChildren(...(notes.length ? [el("ul", {}, ...notes)] : []));
}

function render(nodes, source) {
  const names = nodes.map((n) => n.name);
  const states = statesNow(names);
  const histories = new Map(names.map((n) => [n, known.histories.get(n)?.history ?? null]));
  const now = Date.now();
  const verdicts = consensus(names, states);
  const list = incidents(names, histories, now);
  const perNode = new Map(names.map((n) => [n, list.filter((i) => i.node === n)]));
  const targets = targetNames(names, states);
  const targetList = incidents(targets, histories, now, 90, "targets");
  const perTarget = new Map(targets.map((t) => [t, targetList.filter((i) => i.node === t)]));
  renderNotes(names, source);
  const targetVerdicts = targetConsensus(targets, names, states);
  document.getElementById("summary").textContent = summarize([
    { noun: "node", names, verdicts },
    { noun: "target", names: targets, verdicts: targetVerdicts },
  ]);
  document.getElementById("summary").dataset.trouble = String([...names.map((n) => verdicts[n]), ...targets.map((t) => targetVerdicts[t])].some((v) => v?.status !== "up"));
  renderRows(names, verdicts, clusterVerdicts(names, states), histories, perNode, now);
  renderWhoSeesWhom(names, verdicts, states, now);
  renderTargets(names, targets, states, histories, perTarget, now);
  renderIncidents([...list, ...targetList].sort((a, b) => b.start - a.start || a.node.localeCompare(b.node)), now);
  renderMessages();
  return now;
}

async function main() {
  const { nodes, source } = await resolveNodes();
  const meta = document.getElementById("meta");
  let redraw = null;
  const drawSoon = () => {
    redraw ??= requestAnimationFrame(() => {
      redraw = null;
      render(nodes, source);
    });
  };
  document.getElementById("view-toggle").addEventListener("click", () => {
    view = document.getElementById("view-toggle").dataset.view === "matrix" ? "graph" : "matrix";
    const url = new URL(location.href);
    url.searchParams.set("view", view);
    history.replaceState(null, "", url);
    render(nodes, source);
  });
  const refresh = async () => {
    // Each node is drawn as soon as it answers: a slow one holds up no other.
    await Promise.all([...nodes.map((n) => refreshNode(n).finally(drawSoon)), refreshMessages()]);
    await refreshRelays(nodes.map((n) => n.name));
    const now = render(nodes, source);
    const answered = nodes.filter((n) => known.results.get(n.name)?.state).length;
    meta.textContent = `${answered}/${nodes.length} nodes answered · updated ${new Date(now).toLocaleTimeString()} · every ${refreshSeconds}s · nodes from ${source ?? "nowhere"}`;
    document.body.dataset.updated = String(now);
  };
  // The next refresh is set when this one has ended, however it ended:
  // refreshes never overlap, and one that fails never stops the next.
  const loop = async () => {
    try {
      await refresh();
    } catch (err) {
      meta.textContent = `the last refresh failed (${err.message}); trying again every ${refreshSeconds}s`;
      console.error(err);
    } finally {
      setTimeout(loop, refreshSeconds * 1000);
    }
  };
  await loop();
}

main();
