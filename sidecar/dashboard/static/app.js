// auto-prove dashboard: draws /api/graph once (positions come from the server), then recolours it and fills the
// panels from each `state` event of /events. No framework, no CDN; every text goes in through textContent.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const STATES = ["fully proved", "proved", "found", "searching", "queued", "exhausted", "can prove", "stated",
                "missing", "not formalized"];
const cls = (s) => "st-" + s.replace(/ /g, "-");
const $ = (id) => document.getElementById(id);
let graphVersion = -1;
let nodes = {};  // label -> <g>
let edges = [];  // [used, user, <path>]
let view = null; // the svg viewBox [x, y, w, h]
let graphLoad = null;  // the fetch of /api/graph under way
let lastState = null;

const SVG_TAGS = new Set(["svg", "g", "rect", "text", "title", "path", "defs", "marker", "polyline"]);

function el(tag, attrs, text) {
  const e = SVG_TAGS.has(tag) ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function legend() {
  const box = $("legend");
  box.replaceChildren();
  for (const s of STATES) {
    const span = el("span", {});
    const i = el("i", {});
    i.className = "sw " + cls(s);
    span.append(i, document.createTextNode(s));
    box.append(span);
  }
}

function swatchColours() {  // the legend's swatches take the colours the graph's rects get
  for (const i of document.querySelectorAll("#legend i")) {
    const s = i.className.replace("sw ", "");
    const probe = el("g", { class: "node " + s });
    const r = el("rect", { width: 1, height: 1 });
    probe.append(r);
    $("graph").append(probe);
    const st = getComputedStyle(r);
    i.style.background = st.fill;
    i.style.borderColor = st.stroke;
    probe.remove();
  }
}

async function loadGraph() {
  const g = await (await fetch("/api/graph")).json();
  graphVersion = g.version;
  const svg = $("graph");
  svg.replaceChildren();
  nodes = {};
  edges = [];
  if (g.state !== "ready") {
    $("graph-status").textContent = g.state === "loading" ? "reading and checking the blueprint…"
      : g.state === "none" ? "no blueprint: " + g.error : g.state === "error" ? "blueprint error: " + g.error : "";
    return;
  }
  $("graph-status").textContent = g.source === "coq-dpdgraph" ? "the project's dependency graph (Coq)" : "";
  if (g.error) $("graph-status").textContent += " " + g.error;
  const w = g.nodeWidth, h = g.nodeHeight;
  const pos = {};
  for (const n of g.nodes) pos[n.label] = [n.x, n.y];
  const defs = el("defs", {});
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6,
                                markerHeight: 6, orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9e9e9e" }));
  defs.append(marker);
  svg.append(defs);
  const eg = el("g", {});
  for (const [a, b] of g.edges) {
    const [x1, y1] = pos[a], [x2, y2] = pos[b];
    const my = (y1 + y2) / 2;
    const p = el("path", { class: "edge", "marker-end": "url(#arrow)",
      d: `M ${x1} ${y1 + h / 2} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2 - h / 2}` });
    eg.append(p);
    edges.push([a, b, p]);
  }
  svg.append(eg);
  const ng = el("g", {});
  for (const n of g.nodes) {
    const grp = el("g", { class: "node", "data-label": n.label, transform: `translate(${n.x - w / 2},${n.y - h / 2})` });
    grp.append(el("rect", { width: w, height: h }));
    const name = n.label.length > 22 ? n.label.slice(0, 21) + "…" : n.label;
    grp.append(el("text", { x: w / 2, y: h / 2 }, name));
    grp.append(el("title", {}, `${n.label} (${n.kind})${n.title ? "\n" + n.title : ""}\n${n.decls.join(", ")}`));
    ng.append(grp);
    nodes[n.label] = grp;
  }
  svg.append(ng);
  view = [0, 0, Math.max(g.width, 300), Math.max(g.height, 200)];
  svg.setAttribute("viewBox", view.join(" "));
  svg.dataset.nodes = String(g.nodes.length);
}

function panZoom() {
  const svg = $("graph");
  let drag = null;
  svg.addEventListener("wheel", (e) => {
    if (!view) return;
    e.preventDefault();
    const k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
    const r = svg.getBoundingClientRect();
    const fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
    const [x, y, w, h] = view;
    view = [x + fx * w * (1 - k), y + fy * h * (1 - k), w * k, h * k];
    svg.setAttribute("viewBox", view.join(" "));
  }, { passive: false });
  svg.addEventListener("mousedown", (e) => { drag = [e.clientX, e.clientY]; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", (e) => {
    if (!drag || !view) return;
    const r = svg.getBoundingClientRect();
    view[0] -= (e.clientX - drag[0]) * view[2] / r.width;
    view[1] -= (e.clientY - drag[1]) * view[3] / r.height;
    drag = [e.clientX, e.clientY];
    svg.setAttribute("viewBox", view.join(" "));
  });
}

function row(cells) {
  const tr = el("tr", {});
  for (const c of cells) tr.append(el("td", {}, String(c)));
  return tr;
}

function history(points) {
  const svg = $("history");
  svg.replaceChildren();
  if (points.length < 1) return;
  const t0 = points[0][0], t1 = Math.max(points[points.length - 1][0], t0 + 1);
  const xs = (t) => (300 * (t - t0)) / (t1 - t0);
  const line = (i, colour) => {
    const pts = points.map((p) => `${xs(p[0]).toFixed(1)},${(58 - 56 * (p[i] / Math.max(1, p[1]))).toFixed(1)}`);
    if (pts.length === 1) pts.push(`300,${pts[0].split(",")[1]}`);
    svg.append(el("polyline", { points: pts.join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
  };
  line(2, "#1e88e5");  // stated
  line(3, "#66bb6a");  // proved
  line(4, "#1b7f3b");  // fully proved
  line(5, "#00c853");  // found, not yet in the files
  const since = new Date(t0 * 1000).toLocaleString();
  $("history-note").textContent = `share of the ${points[points.length - 1][1]} nodes since ${since} ` +
    `(${points.length} changes): stated (blue), proved (green), fully proved (dark), found now (bright)`;
}

function diffBlock(text) {
  const pre = el("pre", {});
  for (const ln of text.split("\n")) {
    const s = el("span", {}, ln + "\n");
    if (ln.startsWith("+") && !ln.startsWith("+++")) s.className = "add";
    else if (ln.startsWith("-") && !ln.startsWith("---")) s.className = "del";
    pre.append(s);
  }
  return pre;
}

function apply(st) {
  lastState = st;
  if (st.graphVersion !== graphVersion) {
    if (graphLoad === null) graphLoad = loadGraph().finally(() => { graphLoad = null; paint(lastState); });
  } else {
    paint(st);
  }
  $("project").textContent = st.project;
  const s = st.status;
  $("counts").textContent = s ? `${s.queued} queued · ${s.running} running · ${s.proved} proved · ` +
    `${s.exhausted} exhausted · ${s.errors} errors${s.paused ? " · paused" : ""}` : "static view";
  $("cpu").textContent = `CPU: machine ${Math.round(100 * st.machineCpu)} %` +
    (s ? ` · search ${Math.round(100 * s.cpu)} % (target ${Math.round(100 * s.cpuTarget)} %)` : "");
  const c = st.coverage;
  $("coverage").textContent = c ? `${c.nodes} nodes · ${c.stated} stated · ${c.proved} proved · ` +
    `${c.fullyProved} fully proved · ${c.canProve} can be proved next · ${c.found} found now` : "no blueprint";
  history(st.history);
  const gb = $("goals").tBodies[0];
  gb.replaceChildren(...st.goals.slice(0, 60).map((g) => {
    const tr = row([g.lemma, g.phase || g.status, g.seconds, g.attempts]);
    tr.title = `${g.file}:${g.line}${g.message ? "\n" + g.message : ""}`;
    tr.className = cls(g.status);
    return tr;
  }));
  $("families").tBodies[0].replaceChildren(...st.families.map((f) => row([f.family, f.attempts, f.proofs, f.seconds])));
  const pr = $("proofs");
  pr.replaceChildren(...st.proofs.map((p) => {
    const d = el("details", {});
    d.append(el("summary", {}, `${p.lemma} (${p.file}:${p.line}) ${p.label}, ${p.strategy}, ${p.seconds} s`));
    d.append(diffBlock(p.diff || "(the diff is shown once the file's text is current)"));
    d.open = true;
    return d;
  }));
  if (!st.proofs.length) pr.append(el("div", { class: "muted" }, "none yet"));
  const bp = $("blueprint");
  bp.replaceChildren();
  const list = (title, items) => {
    if (!items.length) return;
    bp.append(el("div", {}, title));
    const ul = el("ul", {});
    for (const i of items) ul.append(el("li", {}, i));
    bp.append(ul);
  };
  if (st.graphError) bp.append(el("div", { class: "error" }, st.graphError));
  list("False greens (marked proved, not proved):", st.falseGreens.map((f) => `${f.label}: ${f.why}`));
  list("Missing greens (proved, not marked):", st.missingGreens);
  list("Can be proved next:", st.next);
  list("Critical path:", st.criticalPath.length ? [st.criticalPath.join(" → ")] : []);
  const tk = $("tickets");
  tk.replaceChildren(...(st.tickets || []).map((t) => {
    const d = el("div", { class: "ticket" });
    d.append(el("b", {}, t.name), document.createTextNode(` (${t.status}, for ${t.lemma} in ${t.file})`),
             el("pre", {}, t.statement));
    return d;
  }));
  if (!(st.tickets || []).length) tk.append(el("div", { class: "muted" }, "none"));
}

function paint(st) {
  const fg = new Set(st.falseGreens.map((f) => f.label));
  for (const [label, grp] of Object.entries(nodes)) {
    const s = st.nodes[label] || "not formalized";
    grp.setAttribute("class", `node ${cls(s)}${fg.has(label) ? " false-green" : ""}`);
    grp.dataset.state = s;
  }
  const onPath = new Set();
  for (let i = 0; i + 1 < st.criticalPath.length; i++) onPath.add(st.criticalPath[i] + "\u0000" + st.criticalPath[i + 1]);
  for (const [a, b, p] of edges) p.setAttribute("class", onPath.has(a + "\u0000" + b) ? "edge critical" : "edge");
  document.body.dataset.version = String(st.version);
}

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("state", (e) => {
    $("live").textContent = "live";
    $("live").className = "pill on";
    apply(JSON.parse(e.data));
  });
  es.onerror = () => {
    $("live").textContent = "disconnected: retrying";
    $("live").className = "pill off";
  };
}

legend();
swatchColours();
panZoom();
connect();
