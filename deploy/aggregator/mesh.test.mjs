// Unit tests of the page's logic: node --test deploy/aggregator/
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  MESSAGES_SHOWN,
  validateMessages,
  circleLayout,
  consensus,
  formatAge,
  freshestRelay,
  graphEdges,
  LABELS,
  nodeFromEntry,
  nodesFromState,
  parseNodeList,
  own,
  clusterVerdicts,
  dailyUptime,
  formatDuration,
  historyKey,
  incidents,
  maintenanceText,
  matrix,
  targetConsensus,
  targetNames,
  uptimeFigures,
  validateHistory,
  validateState,
  troubleFirst,
  summarize,
  codeSpans,
} from "./mesh.mjs";

const T = "2026-06-06T12:42:00Z";
const view = (status) => ({ status, since: T, last_seen: status === "up" ? T : null, consecutive_failures: status === "down" ? 5 : 0 });
const state = (node, peers, relay = {}) => ({ node, peers: Object.fromEntries(Object.entries(peers).map(([k, s]) => [k, view(s)])), relay });

test("a bare name takes the page's protocol; a URL keeps its own", () => {
  assert.deepEqual(nodeFromEntry("dec.mesh.dupunkto.org", "https:"), { name: "dec.mesh.dupunkto.org", url: "https://dec.mesh.dupunkto.org" });
  assert.deepEqual(nodeFromEntry("127.0.0.1:4001", "http:"), { name: "127.0.0.1:4001", url: "http://127.0.0.1:4001" });
  assert.deepEqual(nodeFromEntry("http://Nov.example:8080/", "https:"), { name: "nov.example:8080", url: "http://nov.example:8080" });
  assert.equal(nodeFromEntry("ftp://x.example", "https:"), null);
  assert.equal(nodeFromEntry("  ", "https:"), null);
});

test("a node list drops blanks and duplicates, from a string or an array", () => {
  assert.deepEqual(parseNodeList("a.example, b.example,,https://a.example", "https:").map((n) => n.name), ["a.example", "b.example"]);
  assert.deepEqual(parseNodeList(["x.example", "http://y.example:81"], "https:").map((n) => n.url), ["https://x.example", "http://y.example:81"]);
  assert.deepEqual(parseNodeList(null, "https:"), []);
});

test("a node's own /state names itself and its peers", () => {
  const s = state("127.0.0.1:4001", { "127.0.0.1:4003": "up", "127.0.0.1:4002": "down" });
  assert.deepEqual(nodesFromState(s, "http://127.0.0.1:4001", "http:"), [
    { name: "127.0.0.1:4001", url: "http://127.0.0.1:4001" },
    { name: "127.0.0.1:4002", url: "http://127.0.0.1:4002" },
    { name: "127.0.0.1:4003", url: "http://127.0.0.1:4003" },
  ]);
});

test("validateState accepts the seed's shape and refuses others", () => {
  const seed = {
    node: "nov.mesh.dupunkto.org",
    peers: { "dec.mesh.dupunkto.org": { status: "up", since: T, last_seen: "2026-06-06T13:01:30Z", consecutive_failures: 0 } },
    relay: { "dec.mesh.dupunkto.org": { received_at: "2026-06-06T13:01:28Z", peers: { "nov.mesh.dupunkto.org": view("up") } } },
  };
  assert.equal(validateState(seed).relay["dec.mesh.dupunkto.org"].peers["nov.mesh.dupunkto.org"].status, "up");
  for (const bad of [null, [], "x", {}, { node: "a" }, { node: "a", peers: [] }, { node: "a", peers: { b: { status: "sideways", since: T } } }, { node: "a", peers: { b: { status: "up", since: "never" } } }]) {
    assert.throws(() => validateState(bad));
  }
  const badRelay = validateState({ node: "a", peers: {}, relay: { b: "nonsense", c: { received_at: T, peers: { a: view("up") } } } });
  assert.deepEqual(Object.keys(badRelay.relay), ["c"], "a malformed relay copy is dropped, the rest kept");
});

test("consensus follows the seed's aggregator", () => {
  const names = ["a", "b", "c"];
  const cases = [
    { name: "everyone reachable and up", states: { a: state("a", { b: "up", c: "up" }), b: state("b", { a: "up", c: "up" }), c: state("c", { a: "up", b: "up" }) },
      want: { a: "up", b: "up", c: "up" }, reason: { a: "reachable from browser and 2/2 peers" } },
    { name: "reachable, but a peer sees it down", states: { a: state("a", { b: "up", c: "down" }), b: state("b", { a: "up", c: "up" }), c: state("c", { a: "up", b: "up" }) },
      want: { a: "up", b: "up", c: "partial" }, reason: { c: "reachable from browser and 1/2 peers" } },
    { name: "unreachable and every peer says down", states: { a: state("a", { b: "up", c: "down" }), b: state("b", { a: "up", c: "down" }), c: null },
      want: { a: "up", b: "up", c: "down" }, reason: { c: "unreachable from browser; down from 2/2 peers" } },
    { name: "unreachable but a peer still sees it", states: { a: state("a", { b: "up", c: "down" }), b: state("b", { a: "up", c: "up" }), c: null },
      want: { c: "partial" }, reason: { c: "unreachable from browser; down from 1/2 peers" } },
    { name: "nothing reachable: all down, nobody to ask", states: { a: null, b: null, c: null },
      want: { a: "down", b: "down", c: "down" }, reason: { a: "unreachable from browser; no peer to ask" } },
    { name: "unknown is not down", states: { a: state("a", { b: "unknown", c: "up" }), b: null, c: state("c", { a: "up", b: "unknown" }) },
      want: { b: "partial" } },
  ];
  for (const tc of cases) {
    const got = consensus(names, new Map(Object.entries(tc.states)));
    for (const [n, s] of Object.entries(tc.want)) assert.equal(got[n].status, s, `${tc.name}: ${n}`);
    for (const [n, r] of Object.entries(tc.reason ?? {})) assert.equal(got[n].reason, r, `${tc.name}: reason of ${n}`);
  }
  const got = consensus(names, new Map(Object.entries({ a: state("a", { b: "up", c: "down" }), b: state("b", { a: "up", c: "down" }), c: null })));
  assert.deepEqual(got.c.downFrom, ["a", "b"], "the tooltip names who cannot reach it");
});

test("an isolated node is marked as such, apart from down, and is no observer", () => {
  const names = ["a", "b", "c"];
  const cut = { ...state("c", { a: "down", b: "down" }), isolated: true };
  const got = consensus(names, new Map(Object.entries({ a: state("a", { b: "up", c: "down" }), b: state("b", { a: "up", c: "down" }), c: cut })));
  assert.equal(got.c.status, "isolated");
  assert.equal(got.c.reason, "reachable from browser; cut off from its own network, by its own word");
  assert.equal(got.a.status, "up", "the isolated node's down view of a does not count");
  assert.deepEqual(got.a.observers.map((o) => o.name), ["b"]);
  assert.equal(validateState({ node: "c", peers: {}, isolated: true }).isolated, true);
  assert.equal(validateState({ node: "c", peers: {}, isolated: "yes" }).isolated, false);
  assert.equal(LABELS.isolated.text, "isolated");
});

test("a node its observers hold stopped on purpose is stopped, not down, in rows and cells", () => {
  const names = ["a", "b", "c"];
  const leave = { c: { reason: "leave", from: "2026-01-01T00:00:00Z", until: "2026-01-01T00:15:00Z" } };
  const a = validateState({ ...state("a", { b: "up", c: "down" }), maintenance: leave });
  const b = validateState({ ...state("b", { a: "up", c: "down" }), maintenance: leave });
  const got = consensus(names, new Map([["a", a], ["b", b], ["c", null]]));
  assert.equal(got.c.status, "stopped");
  assert.match(got.c.reason, /stopped on purpose/);
  assert.equal(matrix(names, new Map([["a", a], ["b", b], ["c", null]]), 0)[0].cells[2].status, "stopped");
  const gone = consensus(names, new Map([["a", validateState(state("a", { b: "up", c: "down" }))], ["b", b], ["c", null]]));
  assert.equal(gone.c.status, "stopped", "one observer that holds the leave is enough: the others may have missed its last relay");
  const downOnly = consensus(names, new Map([["a", validateState(state("a", { b: "up", c: "down" }))], ["b", validateState(state("b", { a: "up", c: "down" }))], ["c", null]]));
  assert.equal(downOnly.c.status, "down", "without a leave, down as before");
  assert.deepEqual(validateState({ node: "a", peers: {}, maintenance: { c: { reason: "nap", from: "x", until: "y" } } }).maintenance, Object.create(null));
  assert.equal(LABELS.stopped.text, "stopped");
  const holding = (node) => validateState({ node, peers: {}, relay: {}, cluster: { c: { status: "stopped", down_from: ["a", "b"], up_from: [] } } });
  assert.equal(clusterVerdicts(names, new Map([["a", holding("a")], ["b", holding("b")], ["c", null]])).c.status, "stopped", "a verdict every reporter gives is the verdict");
});

test("graph edges: one per observer and peer, and relayed ones for unreachable nodes", () => {
  const now = Date.parse("2026-06-06T13:00:00Z");
  const states = new Map([
    ["a", state("a", { b: "up", c: "down", outsider: "up" }, { c: { received_at: "2026-06-06T12:59:00Z", peers: { a: view("up"), b: view("down") } } })],
    ["b", state("b", { a: "up", c: "down" }, { c: { received_at: "2026-06-06T12:59:50Z", peers: { a: view("up"), b: view("up") } } })],
    ["c", null],
  ]);
  const edges = graphEdges(["a", "b", "c"], states, now);
  const key = (e) => `${e.from}>${e.to}:${e.status}${e.relayed ? ` relayed ${e.age / 1000}s via ${e.via}` : ""}`;
  assert.deepEqual(edges.map(key).sort(), ["a>b:up", "a>c:down", "b>a:up", "b>c:down", "c>a:up relayed 10s via b", "c>b:up relayed 10s via b"]);
  assert.equal(freshestRelay("c", ["a", "b"], states).via, "b", "the newest copy wins by received_at");
  assert.deepEqual(graphEdges(["a", "b"], new Map([["a", null], ["b", null]]), now), [], "no state and no relay: no edges");
});

test("nodes sit on a circle, the first at the top", () => {
  const pos = circleLayout(["a", "b", "c", "d"], 100, 100, 50);
  assert.deepEqual({ x: Math.round(pos.a.x), y: Math.round(pos.a.y) }, { x: 100, y: 50 });
  assert.deepEqual({ x: Math.round(pos.c.x), y: Math.round(pos.c.y) }, { x: 100, y: 150 });
});

test("ages read short", () => {
  assert.deepEqual([0, 59_000, 60_000, 3_599_000, 7_200_000, 90_000_000].map(formatAge), ["0s", "59s", "1m", "59m", "2h", "1d"]);
});

test("uptime is time up over time known, pooled across every observer's history", () => {
  const now = Date.parse("2026-06-07T00:00:00Z");
  const histories = new Map([
    // a has known c for 10 hours, up but for the last 2; b for 2 days, always up.
    ["a", { peers: { c: { transitions: [{ status: "up", at: "2026-06-06T14:00:00Z" }, { status: "down", at: "2026-06-06T22:00:00Z" }] } } }],
    ["b", { peers: { c: { transitions: [{ status: "up", at: "2026-06-05T00:00:00Z" }] } } }],
    ["c", null],
  ]);
  const u = uptimeFigures("c", histories, now);
  assert.ok(Math.abs(u["24h"] - (8 + 24) / (10 + 24)) < 1e-9, `24h ${u["24h"]}`);
  assert.ok(Math.abs(u["7d"] - (8 + 48) / (10 + 48)) < 1e-9, `7d ${u["7d"]}`);
  assert.equal(u["90d"], u["7d"], "nothing older is known");
  assert.deepEqual(uptimeFigures("d", histories, now), { "24h": null, "7d": null, "30d": null, "90d": null });
});

test("outages seen by several nodes are one incident, naming them; newest first", () => {
  const now = Date.parse("2026-06-10T12:00:00Z");
  const t = (status, at) => ({ status, at });
  const histories = new Map([
    // a and b see c go down twice: at 01:00 (a first, b a minute later, overlapping) and at 05:00 (a alone).
    ["a", { peers: { c: { transitions: [t("up", "2026-06-10T00:00:00Z"), t("down", "2026-06-10T01:00:00Z"), t("up", "2026-06-10T01:10:00Z"),
      t("down", "2026-06-10T05:00:00Z"), t("up", "2026-06-10T05:01:00Z")] }, b: { transitions: [t("up", "2026-06-10T00:00:00Z"), t("down", "2026-06-10T11:00:00Z")] } } }],
    ["b", { peers: { c: { transitions: [t("up", "2026-06-10T00:00:00Z"), t("down", "2026-06-10T01:01:00Z"), t("up", "2026-06-10T01:12:00Z")] } } }],
    // c sees b down since 11:00 too: one ongoing incident of b, seen by a and c.
    ["c", { peers: { b: { transitions: [t("up", "2026-06-10T00:00:00Z"), t("down", "2026-06-10T11:00:30Z")] } } }],
  ]);
  const got = incidents(["a", "b", "c"], histories, now);
  assert.deepEqual(got.map((i) => [i.node, new Date(i.start).toISOString(), i.end && new Date(i.end).toISOString(), i.ongoing, i.seenBy.join(",")]), [
    ["b", "2026-06-10T11:00:00.000Z", null, true, "a,c"],
    ["c", "2026-06-10T05:00:00.000Z", "2026-06-10T05:01:00.000Z", false, "a"],
    ["c", "2026-06-10T01:00:00.000Z", "2026-06-10T01:12:00.000Z", false, "a,b"],
  ]);
  assert.equal(got[0].duration, 3600 * 1000);
  assert.equal(got[2].duration, 12 * 60 * 1000);
  // An outage that began before the window counts from its start.
  const old = incidents(["c"], new Map([["a", { peers: { c: { transitions: [t("down", "2026-01-01T00:00:00Z"), t("up", "2026-03-20T00:00:00Z")] } } }]]), now);
  assert.equal(new Date(old[0].start).toISOString(), "2026-03-12T12:00:00.000Z");
  assert.equal(incidents(["c"], new Map([["a", { peers: { c: { transitions: [t("down", "2026-01-01T00:00:00Z"), t("up", "2026-01-02T00:00:00Z")] } } }]]), now).length, 0,
    "older than 90 days: gone");
});

test("daily bars cover 90 UTC days, today last, each with its uptime and outages", () => {
  const now = Date.parse("2026-06-10T12:00:00Z");
  const histories = new Map([["a", { peers: { c: { transitions: [{ status: "up", at: "2026-06-08T00:00:00Z" }, { status: "down", at: "2026-06-09T18:00:00Z" },
    { status: "up", at: "2026-06-10T00:00:00Z" }] } } }]]);
  const days = dailyUptime("c", histories, now);
  assert.equal(days.length, 90);
  assert.equal(days[89].day, "2026-06-10");
  assert.equal(days[0].day, "2026-03-13");
  assert.deepEqual(days.slice(86).map((d) => [d.day, d.uptime, d.outages]), [
    ["2026-06-07", null, 0],
    ["2026-06-08", 1, 0],
    ["2026-06-09", 0.75, 1],
    ["2026-06-10", 1, 0],
  ]);
});

test("the matrix has a row per observer and a cell per node, in name order, relayed rows marked with their age", () => {
  const now = Date.parse(T) + 30_000;
  const names = ["c", "a", "b"];
  const a = state("a", { b: "up", c: "down" }, { c: { received_at: T, peers: { a: view("up"), b: view("down") } } });
  a.peers.b.rtt_ms = 1.5;
  const states = new Map([["a", a], ["b", state("b", { a: "up" })], ["c", null]]);
  const m = matrix(names, states, now);
  assert.deepEqual(m.map((r) => r.from), ["a", "b", "c"]);
  assert.deepEqual(m.map((r) => r.cells.map((c) => c.status)), [["self", "up", "down"], ["up", "self", "none"], ["up", "down", "self"]]);
  assert.equal(m[0].cells[1].rttMs, 1.5);
  assert.equal(m[0].cells[1].since, T);
  assert.equal(m[0].cells[1].relayed, false);
  assert.deepEqual([m[2].reachable, m[2].cells[0].relayed, m[2].cells[0].age, m[2].cells[0].via], [false, true, 30_000, "a"]);
  assert.ok(m.every((r) => r.cells.every((c) => c.from === r.from)));
});

test("the cluster's verdicts are what most reporting nodes say, an isolated one not counted", () => {
  const withCluster = (node, cluster, isolated = false) =>
    validateState({ node, peers: {}, relay: {}, isolated, cluster: Object.fromEntries(Object.entries(cluster).map(([p, [status, down]]) => [p, { status, down_from: down, up_from: [] }])) });
  const states = new Map([
    ["a", withCluster("a", { c: ["down", ["a", "b"]] })],
    ["b", withCluster("b", { c: ["down", ["a", "b"]], a: ["up", []] })],
    ["d", withCluster("d", { c: ["up", []] }, true)],
    ["c", null],
  ]);
  const v = clusterVerdicts(["a", "b", "c", "d"], states);
  assert.deepEqual(v.c, { status: "down", downFrom: ["a", "b"], upFrom: [], reporters: 2 });
  assert.equal(v.a.status, "up");
  assert.equal(v.d, null);
  assert.equal(clusterVerdicts(["a"], new Map([["a", validateState(state("a", {}))]])).a, null, "a node without relaying reports none");
  assert.deepEqual(validateState({ node: "a", peers: {}, cluster: { b: { status: "sideways", down_from: [], up_from: [] }, c: { status: "up", down_from: "x", up_from: [] } } }).cluster, Object.create(null));
});

test("a node's history is fetched again only when a transition shows in its /state", () => {
  const s1 = state("a", { b: "up", c: "up" });
  const s2 = structuredClone(s1);
  s2.peers.b.last_seen = "2026-06-06T12:43:00Z";
  s2.peers.b.consecutive_failures = 1;
  assert.equal(historyKey(s1), historyKey(s2), "a probe moves nothing");
  s2.peers.c.status = "down";
  s2.peers.c.since = "2026-06-06T12:44:00Z";
  assert.notEqual(historyKey(s1), historyKey(s2));
});

test("durations read as the messages write them, short", () => {
  assert.deepEqual([0, 45_000, 12 * 60_000, 3 * 3600_000 + 5 * 60_000, 2 * 86400_000 + 4 * 3600_000].map(formatDuration), ["0s", "45s", "12m", "3h 5m", "2d 4h"]);
});

test("a scheme's default port is left out of a name, as the node leaves it out; a bare port stays", () => {
  assert.equal(nodeFromEntry("http://127.0.0.1:80", "https:").name, "127.0.0.1");
  assert.equal(nodeFromEntry("https://h.example:443", "http:").name, "h.example");
  assert.equal(nodeFromEntry("http://h.example:443", "https:").name, "h.example:443");
  assert.equal(nodeFromEntry("h.example:80", "http:").name, "h.example:80", "a bare entry is https to a node, so :80 is not its default");
  assert.equal(nodeFromEntry("h.example:443", "https:").name, "h.example:443");
  assert.equal(nodeFromEntry("[::1]:80", "http:").name, "[::1]:80");
  assert.deepEqual(parseNodeList("http://h.example:80,http://h.example", "https:").map((n) => n.name), ["h.example"], "one node, not two");
});

test("names such as __proto__ and constructor reach nothing but their own data", () => {
  const names = ["__proto__", "constructor", "a"];
  const states = new Map([
    ["__proto__", state("__proto__", { a: "up", constructor: "down" })],
    ["constructor", null],
    ["a", state("a", { __proto__: "up" })],
  ]);
  // JSON.parse makes "__proto__" an own key, as a node's /state would.
  states.set("a", validateState(JSON.parse(`{"node":"a","peers":{"__proto__":${JSON.stringify(view("up"))}},"relay":{"__proto__":{"received_at":"${T}","peers":{}}}}`)));
  const got = consensus(names, states);
  assert.equal(got["__proto__"].status, "up");
  assert.equal(got["constructor"].status, "down");
  assert.deepEqual(got["constructor"].downFrom, ["__proto__"]);
  assert.equal(Object.keys(got).length, 3);
  assert.equal(own({}, "constructor"), undefined);
  assert.equal(own(JSON.parse('{"__proto__": 1}'), "__proto__"), 1);
  const pos = circleLayout(names, 0, 0, 1);
  assert.equal(Object.keys(pos).length, 3);
  assert.ok(freshestRelay("__proto__", ["a"], states), "a relay copy keyed __proto__ is found as data");
  assert.equal(freshestRelay("constructor", ["a"], states), null);
  assert.deepEqual(uptimeFigures("constructor", new Map([["a", { peers: {} }]]), Date.now()), { "24h": null, "7d": null, "30d": null, "90d": null });
  assert.deepEqual(incidents(["__proto__", "constructor"], new Map([["a", { peers: JSON.parse('{"__proto__":{"transitions":[{"status":"down","at":"2026-06-06T12:42:00Z"}]}}') }]]), Date.parse(T) + 1000)
    .map((i) => i.node), ["__proto__"]);
  assert.equal(matrix(names, states, Date.now()).length, 3);
});

test("a /history is checked before it is used", () => {
  const good = { node: "a", peers: { b: { transitions: [{ status: "up", at: T }, { status: "down", at: "2026-06-07T00:00:00Z" }], uptime: { "24h": 0.5, "7d": null } } } };
  assert.deepEqual(validateHistory(good).peers.b.uptime["7d"], null);
  for (const [why, doc] of [
    ["a null transition", { peers: { b: { transitions: [null], uptime: {} } } }],
    ["a transition to limbo", { peers: { b: { transitions: [{ status: "unknown", at: T }], uptime: {} } } }],
    ["transitions out of order", { peers: { b: { transitions: [{ status: "up", at: "2026-06-07T00:00:00Z" }, { status: "down", at: T }], uptime: {} } } }],
    ["a time that is not one", { peers: { b: { transitions: [{ status: "up", at: "soon" }], uptime: {} } } }],
    ["an uptime over 1", { peers: { b: { transitions: [], uptime: { "24h": 7 } } } }],
    ["no transitions", { peers: { b: { uptime: {} } } }],
    ["peers not an object", { peers: [] }],
    ["not an object", null],
  ]) {
    assert.throws(() => validateHistory(doc), Error, why);
  }
});

test("validateMessages keeps the latest twenty and refuses what is not a message", () => {
  const m = (i) => ({ at: new Date(Date.UTC(2026, 10, 26, 3, 0, i)).toISOString(), from: "mesh@a", text: `message ${i}` });
  const list = validateMessages(Array.from({ length: 25 }, (_, i) => m(i)));
  assert.equal(list.length, MESSAGES_SHOWN);
  assert.deepEqual(list[0], { at: Date.UTC(2026, 10, 26, 3, 0, 0), from: "mesh@a", text: "message 0" });
  assert.throws(() => validateMessages({}), /not a JSON list/);
  assert.throws(() => validateMessages([{ at: "yesterday", from: "a", text: "b" }]), /\[0\]\.at is not a time/);
  assert.throws(() => validateMessages([{ at: m(0).at, from: 1, text: "b" }]), /\[0\] lacks a from or a text/);
});

test("targets: each node's view, a matrix of nodes by targets, what they see, and a bad entry dropped", () => {
  const shop = "https://shop.example/";
  const db = "tcp://db.example:5432";
  const withTargets = (node, targets, extra = {}) =>
    validateState({ ...state(node, {}), targets: Object.fromEntries(Object.entries(targets).map(([k, st]) => [k, view(st)])), ...extra });
  const a = withTargets("a", { [shop]: "down", [db]: "up" });
  const b = withTargets("b", { [shop]: "up", [db]: "up" }, { isolated: false });
  const bad = validateState({ ...state("c", {}), targets: { [shop]: { status: "sideways" }, __proto__: view("up") } });
  assert.deepEqual(Object.keys(bad.targets), []);
  const states = new Map([["a", a], ["b", b], ["c", bad], ["d", null]]);
  const names = ["a", "b", "c", "d"];
  assert.deepEqual(targetNames(names, states), [shop, db].sort());
  const seen = targetConsensus([shop, db], names, states);
  assert.equal(seen[shop].status, "partial");
  assert.deepEqual(seen[shop].downFrom, ["a"]);
  assert.equal(seen[db].status, "up");
  const rows = matrix(names, states, Date.parse(T), "targets", [db, shop]);
  assert.deepEqual(rows.map((r) => r.from), names);
  assert.deepEqual(rows[0].cells.map((c) => [c.to, c.status]), [[db, "up"], [shop, "down"]]);
  assert.deepEqual(rows[2].cells.map((c) => c.status), ["none", "none"]);
  // A node the browser cannot reach shows through a relay copy that carries its targets.
  const holder = validateState({ ...state("a", {}), relay: { d: { received_at: T, peers: {}, targets: { [shop]: view("down") } } } });
  const relayed = matrix(["a", "d"], new Map([["a", holder], ["d", null]]), Date.parse(T) + 5000, "targets", [shop]);
  assert.deepEqual(relayed[1].cells[0], { from: "d", to: shop, status: "down", since: T, lastSeen: null, rttMs: null, relayed: true, age: 5000, via: "a" });
});

test("targets have their own histories, uptime, incidents and verdicts", () => {
  const shop = "https://shop.example/";
  const now = Date.parse("2026-06-06T12:00:00Z");
  const h = validateHistory({
    node: "a",
    peers: {},
    targets: { [shop]: { transitions: [{ status: "up", at: "2026-06-06T00:00:00Z" }, { status: "down", at: "2026-06-06T06:00:00Z" }], uptime: { "24h": 0.5 } } },
  });
  assert.throws(() => validateHistory({ node: "a", peers: {}, targets: [] }), /targets is not an object/);
  const histories = new Map([["a", h]]);
  assert.equal(uptimeFigures(shop, histories, now, "targets")["24h"], 0.5);
  assert.equal(uptimeFigures(shop, histories, now)["24h"], null);
  const list = incidents([shop], histories, now, 90, "targets");
  assert.equal(list.length, 1);
  assert.equal(list[0].ongoing, true);
  assert.deepEqual(list[0].seenBy, ["a"]);
  assert.equal(dailyUptime(shop, histories, now, 90, null, "targets").at(-1).outages, 1);
  const s = validateState({ ...state("a", {}), cluster: { [shop]: { status: "down", down_from: ["a", "b"], up_from: [] } } });
  assert.equal(clusterVerdicts(["a", "b"], new Map([["a", s], ["b", null]]), [shop])[shop].status, "down");
  // A transition of a target makes the page read the history again.
  const before = historyKey({ peers: {}, targets: { [shop]: view("up") } });
  assert.notEqual(before, historyKey({ peers: {}, targets: { [shop]: view("down") } }));
});

test("what a node saw while it was isolated is no incident and no downtime", () => {
  const now = Date.parse("2026-06-06T12:00:00Z");
  const at = (hhmm) => `2026-06-06T${hhmm}:00Z`;
  // c was cut off from 06:00 to 08:00 and saw a and b "down" then; a
  // really was down from 10:00 to 10:30, as b saw too, and c saw it from
  // 09:59 (its probes a round early) until 11:00, with a spell cut off
  // from 10:40 to 10:50, which nothing is known of.
  const c = validateHistory({
    node: "c",
    peers: {
      a: { transitions: [{ status: "up", at: at("00:00") }, { status: "down", at: at("06:01") }, { status: "up", at: at("07:59") },
        { status: "down", at: at("09:59") }, { status: "up", at: at("11:00") }], uptime: {} },
      b: { transitions: [{ status: "up", at: at("00:00") }, { status: "down", at: at("06:01") }, { status: "up", at: at("07:59") }], uptime: {} },
    },
    isolated: [{ from: at("06:00"), to: at("08:00") }, { from: at("10:40"), to: at("10:50") }],
  });
  const b = validateHistory({
    node: "b",
    peers: { a: { transitions: [{ status: "up", at: at("00:00") }, { status: "down", at: at("10:00") }, { status: "up", at: at("10:30") }], uptime: {} } },
  });
  const histories = new Map([["b", b], ["c", c]]);
  const list = incidents(["a", "b"], histories, now);
  assert.deepEqual(list.map((i) => [i.node, new Date(i.start).toISOString().slice(11, 16), new Date(i.end).toISOString().slice(11, 16), i.seenBy.join()]),
    [["a", "10:50", "11:00", "c"], ["a", "09:59", "10:40", "b,c"]], "the spell from 06:00 to 08:00 made no incident of a or b; the one from 10:40 split a's");
  assert.equal(uptimeFigures("b", histories, now)["24h"], 1, "b was up all the time c could see it");
  // a: known since 00:00, 12 h from b (30 min down); from c, before its
  // first spell (6 h up) and from its first transition after it (09:59,
  // 51 min down then 1 h up): what c saw of a in a spell (up at 07:59)
  // holds until the next transition, and is unknown too.
  const known = 12 * 60 + (6 * 60 + 51 + 60);
  assert.deepEqual(c.peers.b.transitions.map((t) => t.status), ["up", "unknown"]);
  assert.deepEqual(c.peers.a.transitions.map((t) => `${t.status} ${t.at.slice(11, 16)}`),
    ["up 00:00", "unknown 06:00", "down 09:59", "unknown 10:40", "down 10:50", "up 11:00"]);
  assert.ok(Math.abs(uptimeFigures("a", histories, now)["24h"] - (known - 30 - 51) / known) < 1e-9);
  // A spell that lasts: nothing known after its start.
  const lasting = validateHistory({ node: "c", peers: { b: { transitions: [{ status: "up", at: at("00:00") }, { status: "down", at: at("11:01") }], uptime: {} } },
    isolated: [{ from: at("11:00") }] });
  assert.deepEqual(lasting.peers.b.transitions.map((t) => t.status), ["up", "unknown"]);
  assert.deepEqual(incidents(["b"], new Map([["c", lasting]]), now), []);
  for (const bad of [{ from: at("08:00"), to: at("07:00") }, "soon", { to: at("07:00") }]) {
    assert.throws(() => validateHistory({ node: "c", peers: {}, isolated: [bad] }), /isolated\[0\]/);
  }
  assert.throws(() => validateHistory({ node: "c", peers: {}, isolated: [{ from: at("06:00") }, { from: at("07:00"), to: at("08:00") }] }), /isolated\[0\] is out of order/);
});

test("a subject down in maintenance has a state of its own in rows, cells and targets, with who, why and until when", () => {
  const names = ["a", "b", "c"];
  const shop = "https://shop.example/";
  const silence = { reason: "silence", from: "2026-01-01T00:00:00Z", until: "2026-01-01T14:00:00Z", id: "x", by: "alice", comment: "kernel upgrade" };
  const withTarget = (node, peers, target, maintenance) => validateState({ ...state(node, peers), targets: { [shop]: view(target) }, maintenance });
  const a = withTarget("a", { b: "up", c: "down" }, "down", { c: silence, [shop]: { reason: "window", from: "2026-01-01T03:00:00Z", until: "2026-01-01T03:30:00Z", window: "0 3 * * * 30m UTC" } });
  const b = withTarget("b", { a: "up", c: "down" }, "down", {});
  const states = new Map([["a", a], ["b", b], ["c", null]]);
  const got = consensus(names, states);
  assert.equal(got.c.status, "maintenance", "down, and silenced: in maintenance, not down");
  assert.match(got.c.reason, /down from 2\/2 peers; silenced until .* by alice: kernel upgrade$/);
  assert.equal(got.c.maintenance.comment, "kernel upgrade");
  const cells = matrix(names, states, 0)[0].cells;
  assert.equal(cells[2].status, "maintenance", "a's cell of c: down, in maintenance");
  assert.equal(matrix(names, states, 0)[1].cells[2].status, "down", "b does not hold it silenced: its cell says what it sees");
  const t = targetConsensus([shop], names, states)[shop];
  assert.equal(t.status, "maintenance");
  assert.match(t.reason, /^down from 2 of 2 nodes that answered; in its maintenance window until .* \(0 3 \* \* \* 30m UTC\)$/);
  assert.equal(matrix(names, states, 0, "targets", [shop])[0].cells[0].status, "maintenance");
  assert.equal(LABELS.maintenance.text, "maintenance");
  // Up while silenced: up, and the row says it is silenced.
  const up = consensus(names, new Map([["a", validateState({ ...state("a", { b: "up", c: "up" }), maintenance: { c: silence } })], ["b", validateState(state("b", { a: "up", c: "up" }))], ["c", validateState(state("c", { a: "up", b: "up" }))]]));
  assert.equal(up.c.status, "up");
  assert.match(up.c.reason, /; silenced until /);
  assert.equal(targetConsensus([shop], ["b"], new Map([["b", withTarget("b", {}, "up", {})]]))[shop].reason, "up from 1 of 1 nodes that answered");
  assert.match(maintenanceText({ reason: "leave", until: "2026-01-01T00:15:00Z" }), /^stopped on purpose/);
});

test("time in maintenance is left out of uptime; the daily bar shows it, and an outage inside it is a planned stop", () => {
  const now = Date.parse("2026-06-06T12:00:00Z");
  const at = (hhmm) => `2026-06-06T${hhmm}:00Z`;
  // a is rebooted in its window from 03:00 to 03:30 (down 03:05-03:20),
  // and really down from 10:00 to 10:30: b and c both saw it.
  const seen = (node) =>
    validateHistory({
      node,
      peers: {
        a: {
          transitions: [{ status: "up", at: at("00:00") }, { status: "down", at: at("03:05") }, { status: "up", at: at("03:20") }, { status: "down", at: at("10:00") }, { status: "up", at: at("10:30") }],
          uptime: {},
          maintenance: [{ from: at("03:00"), to: at("03:30"), reason: "window" }],
        },
      },
    });
  const histories = new Map([["b", seen("b")], ["c", seen("c")]]);
  assert.equal(uptimeFigures("a", histories, now)["24h"], (11.5 * 60 - 30) / (11.5 * 60), "12 h known less the half hour in maintenance; 30 min down");
  const list = incidents(["a"], histories, now);
  assert.deepEqual(list.map((i) => [new Date(i.start).toISOString().slice(11, 16), i.planned]), [["10:00", false], ["03:05", true]]);
  const today = dailyUptime("a", histories, now, 2, list).at(-1);
  assert.equal(today.maintained, 30 * 60 * 1000);
  assert.equal(today.outages, 1, "the planned stop is no outage");
  assert.equal(today.planned, 1);
  // Only the planned stop: the day is all up, in maintenance for half an hour.
  const planned = new Map([["b", validateHistory({ node: "b", peers: { a: { transitions: [{ status: "up", at: at("00:00") }, { status: "down", at: at("03:05") }, { status: "up", at: at("03:20") }], uptime: {}, maintenance: [{ from: at("03:00"), to: at("03:30"), reason: "silence" }] } } })]]);
  const day = dailyUptime("a", planned, now, 1).at(-1);
  assert.deepEqual([day.uptime, day.maintained, day.outages, day.planned], [1, 30 * 60 * 1000, 0, 1]);
  assert.throws(() => validateHistory({ node: "b", peers: { a: { transitions: [], uptime: {}, maintenance: [{ from: at("04:00"), to: at("03:00") }] } } }), /maintenance\[0\] is out of order/);
});

test("what is wrong comes first: rows by trouble, then by name; the summary counts the worst first and names them", () => {
  const v = (status) => ({ status });
  const verdicts = { a: v("up"), b: v("down"), c: v("up"), d: v("partial"), e: v("stopped"), f: v("isolated"), g: v("maintenance"), h: v("unknown") };
  assert.deepEqual(troubleFirst(Object.keys(verdicts), verdicts), ["b", "f", "d", "g", "e", "h", "a", "c"]);
  const twelve = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`n${String(i).padStart(2, "0")}`, v(i === 7 ? "down" : "up")]));
  const targets = { "https://shop.example/": v("partial"), "tcp://db:5432": v("up") };
  assert.equal(
    summarize([
      { noun: "node", names: Object.keys(twelve), verdicts: twelve },
      { noun: "target", names: Object.keys(targets), verdicts: targets },
    ]),
    "12 nodes: 1 down (n07), 11 up · 2 targets: 1 partial (https://shop.example/), 1 up",
  );
  assert.equal(summarize([{ noun: "node", names: ["a"], verdicts: { a: v("up") } }, { noun: "target", names: [], verdicts: {} }]), "1 node: 1 up");
  const many = Object.fromEntries(["a", "b", "c", "d"].map((n) => [n, v("down")]));
  assert.equal(summarize([{ noun: "node", names: Object.keys(many), verdicts: many }]), "4 nodes: 4 down", "more than three in trouble are counted, not listed");
});

test("a chat message's backticks mark code, as Markdown does", () => {
  assert.deepEqual(codeSpans("🔴 `b:4000` is unreachable from 2 of 3 nodes (a, c)"), [
    { code: false, text: "🔴 " },
    { code: true, text: "b:4000" },
    { code: false, text: " is unreachable from 2 of 3 nodes (a, c)" },
  ]);
  assert.deepEqual(codeSpans("no code here"), [{ code: false, text: "no code here" }]);
  assert.deepEqual(codeSpans("an odd ` backtick"), [{ code: false, text: "an odd ` backtick" }]);
});
