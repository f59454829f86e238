// The console's plots: the gateway's series (GET /status/series) drawn as SVG.
(() => {
  "use strict";
  const root = document.getElementById("plots");
  if (!root) return;
  const NS = "http://www.w3.org/2000/svg";
  const spans = root.querySelectorAll("button[data-span]");
  let span = "hour";
  let last = null;
  let skew = 0;  // the gateway's clock minus this browser's, in seconds
  const clockNow = () => Date.now() / 1000 + skew;
  const fmt = {
    count: (v) => (Math.round(v * 10) / 10).toString(),
    rate: (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(2)) + "/s",
    ms: (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1)) + " ms",
    bytes: (v) => v >= 1 << 30 ? (v / (1 << 30)).toFixed(2) + " GiB"
      : v >= 1 << 20 ? (v / (1 << 20)).toFixed(1) + " MiB" : (v / 1024).toFixed(0) + " KiB",
  };
  const clock = (t) => new Date(t * 1000).toTimeString().slice(0, 5);
  // A line's value at the last sample: a missing one is none (zero) for a
  // count that stops when its subject goes (a client's sessions).
  const currentOf = (line) => {
    const v = line.values.length ? line.values[line.values.length - 1] : null;
    return v === null && line.zero ? 0 : v;
  };
  function el(name, attrs) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  // One plot: lines of values over times, marks (errors, restarts) on the time line.
  // The time axis ends at the clock's now, however old the last sample is.
  function draw(figure, times, lines, marks, unit, step) {
    const svg = figure.querySelector("svg");
    const w = svg.clientWidth || 600, h = svg.clientHeight || 160;
    const left = 56, bottom = 18, pad = 8, right = 8;
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.replaceChildren();
    let max = 0;
    for (const line of lines) for (const v of line.values) if (v !== null && v > max) max = v;
    svg.dataset.max = String(max);
    const top = max;
    max = max > 0 ? max * 1.1 : 1;
    const now = clockNow();
    const lastT = times.length ? times[times.length - 1] : null;
    const t1 = lastT === null ? now : Math.max(lastT, now);
    const t0 = times.length ? Math.min(times[0], t1 - step) : t1 - step;
    const x = (t) => left + (w - left - right) * (t1 > t0 ? (t - t0) / (t1 - t0) : 1);
    const y = (v) => h - bottom - (h - bottom - pad) * (v / max);
    svg.append(el("line", {class: "axis", x1: left, y1: h - bottom, x2: w - right, y2: h - bottom}));
    svg.append(el("line", {class: "axis", x1: left, y1: pad, x2: left, y2: h - bottom}));
    const label = (text, attrs) => { const t = el("text", attrs); t.textContent = text; svg.append(t); };
    if (top > 0) label(fmt[unit](top), {x: left - 4, y: y(top) + 4, "text-anchor": "end"});
    label(fmt[unit](0), {x: left - 4, y: h - bottom, "text-anchor": "end"});
    label(clock(t0), {x: left, y: h - 4});
    label(clock(t1), {x: w - right, y: h - 4, "text-anchor": "end"});
    svg.dataset.end = String(t1);
    for (const line of lines) {
      let d = "", pen = false;
      line.values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += (pen ? "L" : "M") + x(times[i]).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      if (d) svg.append(el("path", {d, class: line.cls + (line.dash ? " dash" : "")}));
    }
    for (const mark of marks) {
      const m = el("line", {class: "mark-" + mark.kind, x1: x(mark.t), x2: x(mark.t), y1: pad, y2: pad + 10});
      const title = el("title", {}); title.textContent = mark.title; m.append(title);
      svg.append(m);
    }
    const legend = figure.querySelector(".legend");
    legend.replaceChildren();
    const shown = [];
    for (const line of lines) {
      const li = document.createElement("li");
      const i = document.createElement("i"); i.className = line.cls; li.append(i);
      li.append(line.label);
      legend.append(li);
      const v = currentOf(line);
      if (v !== null) shown.push(line.label + " " + fmt[unit](v));
    }
    const kinds = new Set(marks.map((m) => m.kind));
    for (const kind of kinds) {
      const li = document.createElement("li");
      const i = document.createElement("i"); i.className = "m-" + kind; li.append(i);
      li.append(kind === "error" ? "errors" : "restarts");
      legend.append(li);
    }
    // Samples stopped (the gateway unreachable): say when the figures are from.
    const stale = lastT !== null && now - lastT > 3 * step;
    const head = stale ? "at " + clock(lastT) + ": " : "now: ";
    const text = (shown.length ? head + shown.join(", ")
      : lastT === null ? "no data yet" : head + "none")
      + (marks.length ? "; " + marks.length + " marked event(s)" : "");
    figure.querySelector(".now").textContent = text;
    svg.setAttribute("aria-label", figure.querySelector("figcaption").textContent + ": " + text);
  }
  function servers(columns, metric) {
    const names = [];
    for (const key in columns) {
      if (key.startsWith("server.") && key.endsWith("." + metric)) names.push(key.slice(7, -metric.length - 1));
    }
    return names.sort();
  }
  const measured = (values) => Boolean(values) && values.some((v) => v !== null);
  function render(data) {
    last = data;
    const c = data.columns, t = data.t, step = data.step || 5;
    const col = (k) => c[k] || t.map(() => null);
    const fig = (name) => root.querySelector('figure[data-plot="' + name + '"]');
    draw(fig("processes"), t, [
      // What runs (the gateway's whole process tree) once measured; its children until then.
      {values: measured(c["gateway.processesUsed"]) ? c["gateway.processesUsed"] : col("gateway.children"),
        cls: "s0", label: "with the gateway"},
      {values: col("gateway.processesWithout"), cls: "s1", dash: true, label: "without it"},
    ], [], "count", step);
    draw(fig("memory"), t, [
      {values: col("gateway.memoryUsed"), cls: "s0", label: "with the gateway"},
      {values: col("gateway.memoryWithout"), cls: "s1", dash: true, label: "without it"},
    ], [], "bytes", step);
    const names = servers(c, "calls");
    const marks = [];
    for (const name of names) {
      for (const [kind, metric] of [["error", "errors"], ["restart", "restarts"]]) {
        (c["server." + name + "." + metric] || []).forEach((v, i) => {
          if (v) marks.push({t: t[i], kind, title: name + ": " + v + " " + metric + " at " + clock(t[i])});
        });
      }
    }
    draw(fig("calls"), t, names.slice(0, 6).map((name, i) => (
      {values: col("server." + name + ".calls"), cls: "s" + i, label: name})), marks, "rate", step);
    const latency = [];
    names.slice(0, 3).forEach((name, i) => {
      latency.push({values: col("server." + name + ".p50"), cls: "s" + i, label: name + " p50"});
      latency.push({values: col("server." + name + ".p99"), cls: "s" + i, dash: true, label: name + " p99"});
    });
    draw(fig("latency"), t, latency, [], "ms", step);
    const clients = Object.keys(c).filter((k) => k.startsWith("client.") || k === "clients.other").sort();
    draw(fig("clients"), t, clients.slice(0, 6).map((k, i) => (
      {values: c[k], cls: "s" + i, zero: true, label: k === "clients.other" ? "other" : k.slice(7)})),
    [], "count", step);
  }
  async function load() {
    if (document.visibilityState === "hidden") return;
    try {
      const r = await fetch("/status/series?span=" + span, {credentials: "same-origin"});
      if (r.ok) {
        const data = await r.json();
        if (typeof data.now === "number") skew = data.now - Date.now() / 1000;
        render(data);
        return;
      }
    } catch (e) { /* the next tick tries again */ }
    if (last) render(last);  // no new data: the time axis still moves with the clock
  }
  for (const b of spans) {
    b.addEventListener("click", () => {
      span = b.dataset.span;
      for (const other of spans) other.setAttribute("aria-pressed", String(other === b));
      load();
    });
  }
  window.addEventListener("resize", () => { if (last) render(last); });
  document.addEventListener("visibilitychange", load);
  load();
  setInterval(load, 5000);
})();
