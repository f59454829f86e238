// The console's log tail: a server's events (GET /api/v1/servers/<name>/logs), live.
(() => {
  "use strict";
  const panel = document.getElementById("logs");
  const gw = window.mcpgw;
  if (!panel || !gw) return;
  const pick = panel.querySelector("select[name=server]");
  const filter = panel.querySelector("input[name=filter]");
  const list = panel.querySelector("ol.log");
  const state = panel.querySelector(".now");
  const MAX = 500;
  let reading = null;
  const clock = (t) => new Date(t * 1000).toTimeString().slice(0, 8);
  function shown(li) {
    const f = filter.value.trim().toLowerCase();
    li.hidden = f !== "" && !li.dataset.text.includes(f);
  }
  function add(event) {
    const li = document.createElement("li");
    const kind = String(event.kind || "");
    li.className = kind.replace(/[^a-z-]/g, "");
    const k = document.createElement("span"); k.className = "kind";
    k.textContent = clock(event.time || 0) + " " + kind + " ";
    li.append(k, String(event.text || ""));
    li.dataset.text = (kind + " " + String(event.text || "")).toLowerCase();
    shown(li);
    const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.append(li);
    while (list.childElementCount > MAX) list.firstElementChild.remove();
    if (atEnd) list.scrollTop = list.scrollHeight;
  }
  async function follow(name) {
    if (reading) reading.abort();
    list.replaceChildren();
    if (!name) { state.textContent = "pick a server"; return; }
    const abort = reading = new AbortController();
    state.textContent = "reading " + name + "\u2026";
    try {
      const r = await gw.api("/api/v1/servers/" + encodeURIComponent(name) + "/logs",
        {headers: {"Accept": "text/event-stream"}, signal: abort.signal});
      if (!r.ok) { state.textContent = "refused (" + r.status + ")"; return; }
      state.textContent = "following " + name;
      await gw.events(r, (data) => {
        try { add(JSON.parse(data)); } catch (e) { /* not an event */ }
        return false;
      });
      if (reading === abort) state.textContent = "the stream ended";
    } catch (e) {
      if (reading === abort) state.textContent = "not following: " + e;
    }
  }
  pick.addEventListener("change", () => follow(pick.value));
  filter.addEventListener("input", () => { for (const li of list.children) shown(li); });
  gw.onStatus((status) => {
    const names = status.servers.map((s) => s.key);
    const have = Array.from(pick.options).slice(1).map((o) => o.value);
    if (names.join("\n") === have.join("\n")) return;
    const keep = pick.value;
    pick.replaceChildren(new Option("(choose)", ""));
    for (const n of names) pick.append(new Option(n, n));
    pick.value = names.includes(keep) ? keep : "";
  });
  gw.panel("logs", (name) => {
    if (!Array.from(pick.options).some((o) => o.value === name)) pick.append(new Option(name, name));
    pick.value = name;
    follow(name);
    panel.scrollIntoView({block: "start"});
    filter.focus();
  });
})();
