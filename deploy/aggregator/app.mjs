// app.mjs: fetches every node's /state and /history and draws the page.
// Every string that comes from a node is set with textContent or
// setAttribute, never parsed as markup: a hostile node can only show text.

import {
  LABELS,
  circleLayout,
  consensus,
  formatAge,
  graphEdges,
  nodesFromState,
  parseNodeList,
  uptimeBar,
  uptimeSummary,
  validateHistory,
  validateState,
} from "./mesh.mjs";

const params = new URLSearchParams(location.search);
const refreshSeconds = Math.min(Math.max(Number(params.get("refresh")) || 10, 1), 3600);
const FETCH_TIMEOUT_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";

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
    const own = validateState(await fetchJSON("../state"));
    return { nodes: nodesFromState(own, location.origin, location.protocol), source: `the node ${own.node}` };
  } catch {
    return { nodes: [], source: null };
  }
}

/** Fetches one node: its validated state (or why not) and its history, if it serves one. */
async function fetchNode(node) {
  const out = { node, state: null, history: null, problem: null, malformed: false, historyProblem: null };
  try {
    out.state = validateState(await fetchJSON(`${node.url}/state`));
  } catch (err) {
    out.malformed = Boolean(err.malformed) || !(err instanceof TypeError || err.name === "AbortError" || /^HTTP/.test(err.message));
    out.problem = err.name === "AbortError" ? "timed out" : err.message;
    return out;
  }
  let h;
  try {
    h = await fetchJSON(`${node.url}/history`);
  } catch (err) {
    // Older nodes serve no history; uptime is then left out.
    if (!err.malformed) return out;
    h = undefined;
  }
  try {
    out.history = validateHistory(h);
  } catch (err) {
    out.historyProblem = err.message; // one bad history never takes the page down
  }
  return out;
}

function percent(v) {
  return v === null ? "–" : `${(v * 100).toFixed(v >= 0.9995 ? 1 : 2)}%`;
}

function statusBadge(status) {
  const l = LABELS[status] ?? LABELS.unknown;
  return el("span", { class: `badge ${status}` }, el("span", { "aria-hidden": "true" }, l.symbol), ` ${l.text}`);
}

function renderRows(names, verdicts, results, histories, now) {
  const list = document.getElementById("rows");
  const items = names.map((name) => {
    const v = verdicts[name];
    const r = results.get(name);
    const why = el("span", { class: "why" }, r.malformed ? `sent a malformed /state, skipped; ${v.reason}` : v.reason);
    if (v.downFrom.length) why.setAttribute("title", `cannot reach it: ${v.downFrom.join(", ")}`);
    const up = uptimeSummary(name, histories);
    const bar = el("span", { class: "bar", role: "img", "aria-label": "last 24 hours" });
    for (const slot of uptimeBar(name, histories, now)) {
      const cls = slot === null ? "none" : slot >= 0.999 ? "up" : slot > 0 ? "partial" : "down";
      bar.append(el("span", { class: `slot ${cls}`, title: slot === null ? "no data" : percent(slot) }));
    }
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
      el("span", { class: "head" }, statusBadge(v.status), " ", el("strong", { class: "name" }, name)),
      why,
      alias,
      el("span", { class: "uptime" }, `24h ${percent(up["24h"])} · 7d ${percent(up["7d"])} · 30d ${percent(up["30d"])}`),
      bar,
      details,
    );
  });
  list.replaceChildren(...items);
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
  document.getElementById("graph").replaceChildren(svg);
}

function renderNotes(results, source) {
  const notes = [];
  const silent = [];
  for (const r of results.values()) {
    if (r.historyProblem) notes.push(el("li", { class: "malformed", "data-node": r.node.name }, el("code", {}, r.node.name), ` sent a malformed /history (${r.historyProblem}); its uptime is left out`));
    if (r.state) continue;
    if (r.malformed) notes.push(el("li", { class: "malformed", "data-node": r.node.name }, el("code", {}, r.node.name), ` sent a malformed /state (${r.problem}); skipped`));
    else silent.push(r.node.name);
  }
  if (silent.length) notes.unshift(el("li", { class: "silent" }, `did not answer: ${silent.join(", ")}`));
  if (source === null) notes.push(el("li", {}, "No nodes to show: add ?nodes=a.example,b.example to the address, or publish a config.json beside this page."));
  document.getElementById("notes").replaceChildren(...(notes.length ? [el("ul", {}, ...notes)] : []));
}

async function main() {
  const { nodes, source } = await resolveNodes();
  const meta = document.getElementById("meta");
  const names = nodes.map((n) => n.name);
  const refresh = async () => {
    const fetched = await Promise.all(nodes.map(fetchNode));
    const results = new Map(fetched.map((r) => [r.node.name, r]));
    const states = new Map(fetched.map((r) => [r.node.name, r.state]));
    const histories = new Map(fetched.map((r) => [r.node.name, r.history]));
    const now = Date.now();
    const verdicts = consensus(names, states);
    renderNotes(results, source);
    renderRows(names, verdicts, results, histories, now);
    renderGraph(names, verdicts, graphEdges(names, states, now));
    const answered = fetched.filter((r) => r.state).length;
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
