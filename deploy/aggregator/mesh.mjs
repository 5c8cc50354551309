// mesh.mjs: the aggregator's logic as plain functions, with no DOM and no
// network, so that node --test can check it. app.mjs does the fetching and
// the drawing.

export const STATUSES = ["unknown", "up", "down"];

/**
 * A node of the cluster: its name (host[:port], as /state names it) and base
 * URL. Names follow the node's rule: a URL's own scheme's default port is
 * left out (an http URL of h on port 80 is h, as the URL standard writes it), while a bare
 * host:port keeps the port it was written with, whatever the page's
 * protocol (a node takes a bare entry for https, so h:80 stays h:80).
 */
export function nodeFromEntry(entry, protocol) {
  const text = String(entry).trim();
  if (text === "") return null;
  const hasScheme = text.includes("://");
  let url;
  try {
    url = new URL(hasScheme ? text : `${protocol}//${text}`);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  let name = url.host.toLowerCase();
  const written = /:(\d+)\/?$/.exec(text);
  if (!hasScheme && written && url.port === "") name = `${name}:${Number(written[1])}`;
  return { name, url: url.origin };
}

/** obj[key] if obj has it as its own property: names from nodes such as "__proto__" or "constructor" reach nothing else. */
export function own(obj, key) {
  return obj !== null && typeof obj === "object" && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** The nodes of a comma-separated list (?nodes= or config.json), without duplicates. */
export function parseNodeList(entries, protocol) {
  const list = Array.isArray(entries) ? entries : String(entries ?? "").split(",");
  const seen = new Set();
  const nodes = [];
  for (const entry of list) {
    const n = nodeFromEntry(entry, protocol);
    if (n && !seen.has(n.name)) {
      seen.add(n.name);
      nodes.push(n);
    }
  }
  return nodes;
}

/** The nodes a node's own /state names: itself (at origin) and its peers. */
export function nodesFromState(state, origin, protocol) {
  const self = nodeFromEntry(origin, protocol);
  const nodes = self ? [{ name: self.name, url: self.url }] : [];
  const seen = new Set(nodes.map((n) => n.name));
  for (const peer of Object.keys(state.peers).sort()) {
    const n = nodeFromEntry(peer, protocol);
    if (n && !seen.has(n.name)) {
      seen.add(n.name);
      nodes.push(n);
    }
  }
  return nodes;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function checkTime(v, field) {
  if (typeof v !== "string" || Number.isNaN(Date.parse(v))) throw new Error(`${field} is not a time`);
}

function checkView(v, field) {
  if (!isObject(v)) throw new Error(`${field} is not an object`);
  if (!STATUSES.includes(v.status)) throw new Error(`${field}.status is not unknown, up or down`);
  checkTime(v.since, `${field}.since`);
  if (v.last_seen !== null && v.last_seen !== undefined) checkTime(v.last_seen, `${field}.last_seen`);
}

/**
 * Checks that a /state document has the seed's shape; throws an Error that
 * says what is wrong. Relay copies that are malformed are dropped, not fatal.
 */
export function validateState(doc) {
  if (!isObject(doc)) throw new Error("not a JSON object");
  if (typeof doc.node !== "string" || doc.node === "") throw new Error("node is missing");
  if (!isObject(doc.peers)) throw new Error("peers is not an object");
  for (const [name, v] of Object.entries(doc.peers)) checkView(v, `peers[${JSON.stringify(name).slice(0, 40)}]`);
  const relay = Object.create(null); // keyed by names from the node: no prototype to reach
  if (isObject(doc.relay)) {
    for (const [sender, copy] of Object.entries(doc.relay)) {
      try {
        if (!isObject(copy) || !isObject(copy.peers)) throw new Error("bad copy");
        checkTime(copy.received_at, "received_at");
        for (const [name, v] of Object.entries(copy.peers)) checkView(v, name);
        relay[sender] = { ...copy, targets: validTargets(copy.targets) };
      } catch {
        // One bad copy says nothing about the node's own view.
      }
    }
  }
  // Mesh's additions: the cluster's verdicts as this node reaches them, and
  // whether it has lost its own network. A malformed verdict is dropped.
  const cluster = Object.create(null);
  if (isObject(doc.cluster)) {
    for (const [peer, v] of Object.entries(doc.cluster)) {
      if (isObject(v) && CLUSTER_STATUSES.includes(v.status) && isNameList(v.down_from) && isNameList(v.up_from)) {
        cluster[peer] = { status: v.status, downFrom: v.down_from, upFrom: v.up_from };
      }
    }
  }
  // What this node holds in maintenance: {subject: {reason, from, until,
  // and of a silence its by and comment, of a window its window}}.
  const maintenance = Object.create(null);
  if (isObject(doc.maintenance)) {
    for (const [subject, m] of Object.entries(doc.maintenance)) {
      if (isObject(m) && MAINTENANCE_REASONS.includes(m.reason) && !Number.isNaN(Date.parse(m.from)) && !Number.isNaN(Date.parse(m.until))) {
        const text = (v) => (typeof v === "string" ? v.slice(0, 500) : "");
        maintenance[subject] = { reason: m.reason, from: m.from, until: m.until, by: text(m.by), comment: text(m.comment), window: text(m.window) };
      }
    }
  }
  return {
    node: doc.node,
    peers: doc.peers,
    targets: validTargets(doc.targets),
    relay,
    isolated: doc.isolated === true,
    cluster,
    hasCluster: isObject(doc.cluster),
    maintenance,
  };
}

/**
 * Why a subject may be in maintenance: a peer stopped on purpose (leave),
 * an operator's silence, or one of its maintenance windows.
 */
const MAINTENANCE_REASONS = ["leave", "silence", "window"];

/**
 * The maintenance the observers hold a subject in, if any: the first
 * observer's that holds one (each node's own /state says; one that holds
 * it is enough, as the others may not have heard yet). A leave is only
 * asked for by the callers that show a stopped node.
 */
function heldIn(subject, observers, states, reasons = ["silence", "window"]) {
  for (const o of observers) {
    const m = own(states.get(o.name)?.maintenance, subject);
    if (m && reasons.includes(m.reason)) return m;
  }
  return undefined;
}

/** What a maintenance is, in words: "silenced until 14:00 by alice: kernel upgrade", "in its maintenance window until 03:30 (0 3 * * * 30m UTC)". */
export function maintenanceText(m) {
  const until = new Date(Date.parse(m.until)).toLocaleTimeString();
  if (m.reason === "silence") return `silenced until ${until}${m.by ? ` by ${m.by}` : ""}${m.comment ? `: ${m.comment}` : ""}`;
  if (m.reason === "window") return `in its maintenance window until ${until}${m.window ? ` (${m.window})` : ""}`;
  return `stopped on purpose, by its own word; an outage if not back by ${until}`;
}

/**
 * A node's view of its targets (Mesh's "targets", same shape as "peers"):
 * the well-formed entries, keyed without a prototype; a malformed one is
 * dropped, and says nothing of the node's view of its peers.
 */
function validTargets(targets) {
  const out = Object.create(null);
  if (!isObject(targets)) return out;
  for (const [name, v] of Object.entries(targets)) {
    try {
      checkView(v, name);
      out[name] = v;
    } catch {
      // left out
    }
  }
  return out;
}

/**
 * What the nodes the browser reaches see of each target: down when every
 * one that knows sees it down, partial when some do, up when none does,
 * unknown when nobody knows yet. A target is no node, so unlike consensus's
 * nodes it cannot be asked from the browser: the observers are all there is.
 */
export function targetConsensus(targets, names, states) {
  const out = Object.create(null);
  for (const target of targets) {
    const observers = observersOf(target, "targets", names, states).filter((o) => o.status !== "unknown");
    const down = observers.filter((o) => o.status === "down").map((o) => o.name);
    const maintenance = heldIn(target, observers, states);
    let status = observers.length === 0 ? "unknown" : down.length === observers.length ? "down" : down.length ? "partial" : "up";
    // Trouble in maintenance is no outage: a state of its own.
    if (maintenance && (status === "down" || status === "partial")) status = "maintenance";
    let reason = observers.length === 0 ? "no node that answered knows it yet" : down.length ? `down from ${down.length} of ${observers.length} nodes that answered` : `up from ${observers.length} of ${observers.length} nodes that answered`;
    if (maintenance) reason += `; ${maintenanceText(maintenance)}`;
    out[target] = { status, observers, downFrom: down, reason, maintenance };
  }
  return out;
}

/**
 * The observers of a subject, a node (kind "peers") or a target (kind
 * "targets"): every node the browser reaches, in name order, that lists
 * it, with what it sees. An isolated node is no observer: its view says
 * nothing of the others; nor is a node of itself.
 */
function observersOf(subject, kind, names, states) {
  const observers = [];
  for (const n of [...names].sort()) {
    const s = states.get(n);
    if (n === subject || s == null || s.isolated) continue;
    const v = own(s[kind], subject);
    if (v) observers.push({ name: n, status: v.status });
  }
  return observers;
}

/** Every target any reachable node watches, in name order. */
export function targetNames(names, states) {
  const all = new Set();
  for (const n of names) for (const t of Object.keys(states.get(n)?.targets ?? {})) all.add(t);
  return [...all].sort();
}

const CLUSTER_STATUSES = ["up", "partial", "down", "stopped"];

function isNameList(v) {
  return Array.isArray(v) && v.length <= 10000 && v.every((n) => typeof n === "string");
}

/**
 * Consensus per node, as the seed's aggregator does it. states maps each
 * node's name to its validated /state, or null when the browser could not
 * get one. Observers are the reachable nodes that list the node as a peer.
 *
 *  - reachable, and no observer says down           -> up
 *  - reachable, but some observer says down         -> partial
 *  - unreachable, and every observer says down,
 *    or there is no observer to ask                 -> down
 *  - unreachable, and some observer does not say so -> partial
 *  - reachable, and it says it is isolated          -> isolated
 *
 * An isolated node (it has lost its own network, and says so in its
 * /state) is no observer: its view says nothing of its peers.
 */
export function consensus(names, states) {
  const result = Object.create(null); // keyed by node names: no prototype to reach
  for (const name of names) {
    const reachable = states.get(name) != null;
    const observers = observersOf(name, "peers", names, states);
    const down = observers.filter((o) => o.status === "down").map((o) => o.name);
    const up = observers.filter((o) => o.status === "up").length;
    const isolated = reachable && states.get(name).isolated === true;
    // A node its observers hold as stopped on purpose (it said so as it
    // went, and its grace is not over) is no outage; nor is one in
    // maintenance (silenced, or in its window) that is down or partly so.
    const leave = reachable ? undefined : heldIn(name, observers, states, ["leave"]);
    const maintenance = heldIn(name, observers, states);
    let status;
    if (isolated) status = "isolated";
    else if (reachable) status = down.length === 0 ? "up" : "partial";
    else if (leave) status = "stopped";
    else status = observers.length === 0 || down.length === observers.length ? "down" : "partial";
    if (maintenance && (status === "down" || status === "partial")) status = "maintenance";
    const from = reachable ? "reachable from browser" : "unreachable from browser";
    let reason = isolated
      ? `${from}; cut off from its own network, by its own word`
      : leave
        ? `${from}; ${maintenanceText(leave)}`
        : observers.length === 0
        ? `${from}; no peer to ask`
        : reachable
          ? `${from} and ${up}/${observers.length} peers`
          : `${from}; down from ${down.length}/${observers.length} peers`;
    if (maintenance && !isolated) reason += `; ${maintenanceText(maintenance)}`;
    result[name] = { status, reachable, observers, downFrom: down, reason, maintenance: leave ?? maintenance };
  }
  return result;
}

/**
 * The who-sees-whom edges: one per observer -> peer, both in names. A
 * reachable observer's edges come from its own /state; an unreachable
 * one's from the freshest relay copy any reachable node holds of it, marked
 * relayed with the copy's age in ms.
 */
export function graphEdges(names, states, now) {
  const inCluster = new Set(names);
  const edges = [];
  const add = (from, peers, extra) => {
    for (const to of Object.keys(peers).sort()) {
      if (to !== from && inCluster.has(to)) edges.push({ from, to, status: peers[to].status, ...extra });
    }
  };
  for (const from of names) {
    const s = states.get(from);
    if (s != null) {
      add(from, s.peers, { relayed: false });
      continue;
    }
    const copy = freshestRelay(from, names, states);
    if (copy) add(from, copy.peers, { relayed: true, age: Math.max(0, now - Date.parse(copy.received_at)), via: copy.via });
  }
  return edges;
}

/** The newest relay copy of node's view held by any reachable node, by received_at. */
export function freshestRelay(node, names, states) {
  let best = null;
  for (const holder of names) {
    const s = states.get(holder);
    const copy = own(s?.relay, node);
    if (copy && (best === null || Date.parse(copy.received_at) > Date.parse(best.received_at))) {
      best = { ...copy, via: holder };
    }
  }
  return best;
}

/** Positions of n nodes evenly on a circle, the first at the top. */
export function circleLayout(names, cx, cy, r) {
  const pos = Object.create(null);
  names.forEach((name, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(names.length, 1);
    pos[name] = { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) };
  });
  return pos;
}

/**
 * Checks a /history document: {node, peers: {name: {transitions: [{status,
 * at}], uptime: {24h, 7d, 30d}}}, isolated: [{from, to}]}, transitions
 * oldest first, uptime ratios from 0 to 1 or null, the node's spells of
 * isolation in order. Throws an Error that says what is wrong; the page
 * then leaves that node's history out and says so. The transitions come
 * back with the spells cut out (see withoutIsolation): what a node saw
 * while it was cut off is no observation, and no figure counts it.
 */
export function validateHistory(doc) {
  if (!isObject(doc)) throw new Error("not a JSON object");
  if (!isObject(doc.peers)) throw new Error("peers is not an object");
  if (doc.targets !== undefined && !isObject(doc.targets)) throw new Error("targets is not an object");
  const isolated = spellsOf(doc.isolated);
  return { node: doc.node, peers: histories(doc.peers, "peers", isolated), targets: histories(doc.targets ?? {}, "targets", isolated), isolated };
}

/**
 * Spells of a /history, checked: the node's spells of isolation, or a
 * subject's of maintenance (field names which): [{from, to}] in ms, to
 * null while it lasts, in order and apart; a spell of maintenance keeps
 * its reason.
 */
function spellsOf(list, field = "isolated") {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new Error(`${field} is not a list`);
  let last = -Infinity;
  return list.map((sp, i) => {
    if (!isObject(sp)) throw new Error(`${field}[${i}] is not a spell`);
    checkTime(sp.from, `${field}[${i}].from`);
    if (sp.to !== undefined && sp.to !== null) checkTime(sp.to, `${field}[${i}].to`);
    const from = Date.parse(sp.from);
    const to = sp.to === undefined || sp.to === null ? null : Date.parse(sp.to);
    if (from < last || (to !== null && to < from) || (to === null && i !== list.length - 1)) throw new Error(`${field}[${i}] is out of order`);
    last = to ?? Infinity;
    return field === "isolated" ? { from, to } : { from, to, reason: MAINTENANCE_REASONS.includes(sp.reason) ? sp.reason : "silence" };
  });
}

/**
 * A transition list (oldest first) with the node's spells of isolation cut
 * out: each spell is an "unknown" stretch. A transition in a spell is no
 * observation either: after such a spell the status stays unknown until
 * the next transition; after a spell without one, the status the list had
 * reached goes on. An outage that began before a spell ends at it.
 */
export function withoutIsolation(transitions, spells) {
  if (spells.length === 0) return transitions;
  const out = [];
  let i = 0;
  let status = null; // the status the list has reached; null before its first transition
  for (const sp of spells) {
    for (; i < transitions.length && Date.parse(transitions[i].at) < sp.from; i++) {
      out.push(transitions[i]);
      status = transitions[i].status;
    }
    if (status !== null) out.push({ status: "unknown", at: new Date(sp.from).toISOString() });
    let seen = false;
    for (; i < transitions.length && (sp.to === null || Date.parse(transitions[i].at) < sp.to); i++) seen = true;
    if (sp.to === null) return out;
    if (seen) status = null;
    else if (status !== null) out.push({ status, at: new Date(sp.to).toISOString() });
  }
  return out.concat(transitions.slice(i));
}

/** The histories of /history's "peers" or "targets", checked, with the node's spells of isolation cut out. */
function histories(obj, kind, isolated) {
  const peers = Object.create(null);
  for (const [name, h] of Object.entries(obj)) {
    const field = `${kind}[${JSON.stringify(name).slice(0, 40)}]`;
    if (!isObject(h) || !Array.isArray(h.transitions)) throw new Error(`${field}.transitions is not a list`);
    let last = -Infinity;
    h.transitions.forEach((t, i) => {
      if (!isObject(t) || (t.status !== "up" && t.status !== "down")) throw new Error(`${field}.transitions[${i}] is not an up or down transition`);
      checkTime(t.at, `${field}.transitions[${i}].at`);
      if (Date.parse(t.at) < last) throw new Error(`${field}.transitions are out of order`);
      last = Date.parse(t.at);
    });
    const uptime = Object.create(null);
    for (const w of ["24h", "7d", "30d", "90d"]) {
      const v = own(h.uptime, w);
      if (v !== undefined && v !== null && !(typeof v === "number" && v >= 0 && v <= 1)) throw new Error(`${field}.uptime.${w} is not a ratio`);
      uptime[w] = v ?? null;
    }
    // Its spells of maintenance: time the uptime figures leave out.
    const maintenance = spellsOf(h.maintenance, `${field}.maintenance`);
    peers[name] = { transitions: withoutIsolation(h.transitions, isolated), uptime, maintenance };
  }
  return peers;
}

/** A short age: 12s, 3m, 2h, 4d. */
export function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** How much of [from, to) spells (in order, apart; to null while one lasts, until now) cover. */
function covered(spells, from, to, now) {
  let d = 0;
  for (const sp of spells) d += Math.max(0, Math.min(sp.to ?? now, to) - Math.max(sp.from, from));
  return d;
}

/**
 * Share of [start, end) a transition list (oldest first) spends up, the
 * time known (not "unknown", a spell of isolation) and out of maintenance,
 * and the time in maintenance, which status pages leave out of uptime.
 */
function upWithin(transitions, start, end, maintenance = [], now = end) {
  let up = 0;
  let known = 0;
  transitions.forEach((t, i) => {
    const from = Math.max(Date.parse(t.at), start);
    const to = Math.min(i + 1 < transitions.length ? Date.parse(transitions[i + 1].at) : end, end);
    if (to > from && t.status !== "unknown") {
      const d = to - from - covered(maintenance, from, to, now);
      known += d;
      if (t.status === "up") up += d;
    }
  });
  return { up, known, maintained: covered(maintenance, start, end, now) };
}

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

/** The transitions observer's history holds of node (kind "peers") or of a target ("targets"), or null. */
function transitionsOf(histories, observer, node, kind = "peers") {
  const t = own(own(own(histories.get(observer), kind), node), "transitions");
  return Array.isArray(t) ? t : null;
}

/** The spells observer's history holds node in maintenance, oldest first. */
function maintenanceOf(histories, observer, node, kind = "peers") {
  const m = own(own(own(histories.get(observer), kind), node), "maintenance");
  return Array.isArray(m) ? m : [];
}

/**
 * Uptime of node within [start, end), pooled over every observer's
 * history (null when nobody knew), and the longest time any observer held
 * it in maintenance then.
 */
function pooled(node, histories, start, end, kind = "peers") {
  let up = 0;
  let known = 0;
  let maintained = 0;
  for (const observer of histories.keys()) {
    if (observer === node) continue;
    const t = transitionsOf(histories, observer, node, kind);
    if (!t) continue;
    const r = upWithin(t, start, end, maintenanceOf(histories, observer, node, kind));
    up += r.up;
    known += r.known;
    maintained = Math.max(maintained, r.maintained);
  }
  return { uptime: known > 0 ? up / known : null, maintained };
}

function pooledUptime(node, histories, start, end, kind = "peers") {
  return pooled(node, histories, start, end, kind).uptime;
}

/** The windows uptime is given over, and their lengths. */
export const WINDOWS = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "90d": 90 * DAY };

/**
 * Uptime of node over each window: time up over time known, pooled across
 * every observer's history; null for a window nobody knew anything of.
 * Time in maintenance is not counted at all, as status pages do.
 */
export function uptimeFigures(node, histories, now, kind = "peers") {
  const out = {};
  for (const [w, span] of Object.entries(WINDOWS)) out[w] = pooledUptime(node, histories, now - span, now, kind);
  return out;
}

/** The UTC day (YYYY-MM-DD) an instant falls on. */
export function utcDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Outages of the last `days` days, merged across nodes: for each node, the
 * times any observer saw it down, overlapping ones joined into one
 * incident, with the observers that saw it. Newest first. histories maps
 * each observer to its validated /history (or null). With kind "targets",
 * names are targets, and their outages are read from "targets".
 */
export function incidents(names, histories, now, days = 90, kind = "peers") {
  const from = now - days * DAY;
  const out = [];
  for (const node of names) {
    const spans = [];
    for (const observer of histories.keys()) {
      if (observer === node) continue;
      const t = transitionsOf(histories, observer, node, kind);
      if (!t) continue;
      const maintenance = maintenanceOf(histories, observer, node, kind);
      t.forEach((tr, i) => {
        if (tr.status !== "down") return;
        const start = Date.parse(tr.at);
        const next = i + 1 < t.length ? Date.parse(t[i + 1].at) : null;
        if (next !== null && next <= from) return;
        // Down only while the observer held it in maintenance: planned.
        const planned = covered(maintenance, start, next ?? now, now) >= (next ?? now) - start;
        spans.push({ start, end: next, observer, planned });
      });
    }
    spans.sort((a, b) => a.start - b.start);
    let cur = null;
    const flush = () => {
      if (!cur) return;
      const end = cur.end;
      out.push({
        node,
        start: Math.max(cur.start, from),
        end,
        ongoing: end === null,
        duration: (end ?? now) - Math.max(cur.start, from),
        seenBy: [...cur.seenBy].sort(),
        planned: cur.planned,
      });
    };
    for (const sp of spans) {
      if (cur && (cur.end === null || sp.start <= cur.end)) {
        cur.end = cur.end === null || sp.end === null ? null : Math.max(cur.end, sp.end);
        cur.seenBy.add(sp.observer);
        cur.planned &&= sp.planned;
        continue;
      }
      flush();
      cur = { start: sp.start, end: sp.end, seenBy: new Set([sp.observer]), planned: sp.planned };
    }
    flush();
  }
  return out.sort((a, b) => b.start - a.start || a.node.localeCompare(b.node));
}

/**
 * The last `days` UTC days of node, oldest first, today last: each day's
 * uptime (time up over time known and out of maintenance, across every
 * observer's history, null when nobody knew), how long it was in
 * maintenance (ms, as the observer that held it longest), and the
 * incidents that overlap it, planned ones apart.
 */
export function dailyUptime(node, histories, now, days = 90, nodeIncidents = null, kind = "peers") {
  const list = nodeIncidents ?? incidents([node], histories, now, days, kind);
  const today = Date.parse(`${utcDay(now)}T00:00:00Z`);
  const out = [];
  for (let i = days - 1; i >= 0; i--) {
    const start = today - i * DAY;
    const end = Math.min(start + DAY, now);
    const overlapping = list.filter((x) => x.node === node && x.start < end && (x.end === null || x.end > start));
    const { uptime, maintained } = pooled(node, histories, start, end, kind);
    out.push({ day: utcDay(start), uptime, maintained, outages: overlapping.filter((x) => !x.planned).length, planned: overlapping.filter((x) => x.planned).length });
  }
  return out;
}

/**
 * A matrix of what each node sees: a row per node, in name order, and a
 * cell per column. Of kind "peers" (the who-sees-whom matrix) the columns
 * are the nodes themselves, in name order; of kind "targets" they are the
 * targets given. A cell holds what the node's own /state says of the
 * column, or, for a node the browser cannot reach, the freshest relay copy
 * of its view (relayed, with its age in ms); "self" on the diagonal,
 * "none" where nothing is known.
 */
export function matrix(names, states, now, kind = "peers", columns = [...names].sort()) {
  return [...names].sort().map((from) => {
    const s = states.get(from);
    let views = s?.[kind] ?? null;
    let relayed = null;
    if (s == null) {
      const copy = freshestRelay(from, names, states);
      if (copy) {
        views = copy[kind] ?? null;
        relayed = { age: Math.max(0, now - Date.parse(copy.received_at)), via: copy.via };
      }
    }
    const cells = columns.map((to) => {
      if (to === from) return { from, to, status: "self" };
      const v = own(views, to);
      if (!v) return { from, to, status: "none" };
      // Down, to an observer that holds it stopped on purpose: stopped;
      // that holds it silenced or in its window: in maintenance.
      const held = v.status === "down" ? own(s?.maintenance, to) : undefined;
      return {
        from,
        to,
        status: held ? (held.reason === "leave" ? "stopped" : "maintenance") : v.status,
        ...(held ? { maintenance: held } : {}),
        since: v.since,
        lastSeen: v.last_seen ?? null,
        rttMs: typeof v.rtt_ms === "number" ? v.rtt_ms : null,
        relayed: relayed !== null,
        ...(relayed ?? {}),
      };
    });
    return { from, reachable: s != null, isolated: s?.isolated === true, cells };
  });
}

/**
 * The cluster's verdict on each node, as the reachable, non-isolated nodes
 * that reach verdicts (relaying on) report it in their /state: the status
 * most of them give, and who sees the node down and up by the first of
 * those. null for a node no one reports on. subjects are what the verdicts
 * are on: the nodes, or the targets.
 */
export function clusterVerdicts(names, states, subjects = names) {
  const out = Object.create(null);
  for (const node of subjects) {
    const reports = [];
    for (const reporter of [...names].sort()) {
      const s = states.get(reporter);
      if (reporter === node || s == null || s.isolated || !s.hasCluster) continue;
      const v = own(s.cluster, node);
      if (v) reports.push({ reporter, ...v });
    }
    if (!reports.length) {
      out[node] = null;
      continue;
    }
    const count = (st) => reports.filter((r) => r.status === st).length;
    // Most reporters' status; up where it ties. Every report has one of
    // the four, so the status is some report's.
    const status = ["down", "partial", "stopped"].reduce((best, st) => (count(st) > count(best) ? st : best), "up");
    const first = reports.find((r) => r.status === status);
    out[node] = { status, downFrom: first.downFrom, upFrom: first.upFrom, reporters: reports.length };
  }
  return out;
}

/** A duration in words: 45s, 12m, 3h 5m, 2d 4h. */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * A signature of what in a node's /state moves when a transition happens:
 * each peer's status and since. The page fetches a node's /history again
 * only when this changed, since history changes only with transitions.
 */
export function historyKey(state) {
  const key = (views) =>
    Object.keys(views)
      .sort()
      .map((p) => `${p}\u0000${views[p].status}\u0000${views[p].since}`)
      .join("\u0001");
  return `${key(state.peers)}\u0002${key(state.targets ?? {})}`;
}

/** The word and symbol each status is shown with, so colour is never alone. */
export const LABELS = {
  up: { symbol: "✔", text: "up" },
  partial: { symbol: "◐", text: "partial" },
  down: { symbol: "✖", text: "down" },
  isolated: { symbol: "⊘", text: "isolated" },
  stopped: { symbol: "⏸", text: "stopped" },
  maintenance: { symbol: "🔧", text: "maintenance" },
  unknown: { symbol: "?", text: "unknown" },
  none: { symbol: "·", text: "not probed" },
  self: { symbol: "", text: "itself" },
};

/** How many chat messages the page shows at most. */
export const MESSAGES_SHOWN = 20;

/**
 * The latest chat messages, as `mesh demo`'s chat serves them (?messages=):
 * a list, newest first, of {at, from, text}. Returns at most MESSAGES_SHOWN
 * of them, each with its time parsed; throws an Error that says what is
 * wrong, and the page then says so instead of showing them.
 */
export function validateMessages(doc) {
  if (!Array.isArray(doc)) throw new Error("not a JSON list");
  return doc.slice(0, MESSAGES_SHOWN).map((m, i) => {
    if (!isObject(m)) throw new Error(`[${i}] is not an object`);
    checkTime(m.at, `[${i}].at`);
    if (typeof m.from !== "string" || typeof m.text !== "string") throw new Error(`[${i}] lacks a from or a text`);
    return { at: Date.parse(m.at), from: m.from, text: m.text };
  });
}

/** Statuses by how much they need a reader's eye, the worst first. */
export const TROUBLE_ORDER = ["down", "isolated", "partial", "maintenance", "stopped", "unknown", "up"];

function troubleRank(status) {
  const i = TROUBLE_ORDER.indexOf(status);
  return i < 0 ? TROUBLE_ORDER.length : i;
}

/** names, the worst status first, then by name: what is wrong comes first on the page. */
export function troubleFirst(names, verdicts) {
  return [...names].sort((a, b) => troubleRank(verdicts[a]?.status) - troubleRank(verdicts[b]?.status) || a.localeCompare(b));
}

/**
 * The page's summary line: how many nodes (and targets) are in each
 * status, the worst first, naming the ones in trouble:
 * "12 nodes: 1 down (b), 11 up · 2 targets: 2 up".
 */
export function summarize(groups) {
  const parts = [];
  for (const { noun, names, verdicts } of groups) {
    if (!names.length) continue;
    const by = new Map();
    for (const n of names) {
      const s = verdicts[n]?.status ?? "unknown";
      by.set(s, [...(by.get(s) ?? []), n]);
    }
    const counts = [...by.keys()]
      .sort((a, b) => troubleRank(a) - troubleRank(b))
      .map((s) => {
        const list = by.get(s);
        const named = s === "up" || s === "unknown" || list.length > 3 ? "" : ` (${list.join(", ")})`;
        return `${list.length} ${LABELS[s]?.text ?? s}${named}`;
      });
    parts.push(`${names.length} ${noun}${names.length === 1 ? "" : "s"}: ${counts.join(", ")}`);
  }
  return parts.join(" · ");
}

/**
 * A chat message's text as spans, with what Markdown puts between
 * backticks marked as code: the page shows `a` as code, not as backticks.
 */
export function codeSpans(text) {
  const parts = String(text).split("`");
  if (parts.length % 2 === 0) return [{ code: false, text: String(text) }]; // an odd backtick: no Markdown here
  return parts.map((t, i) => ({ code: i % 2 === 1, text: t })).filter((p) => p.text !== "");
}
