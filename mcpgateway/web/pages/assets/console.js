// The console's shared part: the live stream, the API's token, the buttons.
(() => {
  "use strict";
  const live = document.getElementById("live");
  const needs = document.getElementById("needs-live");
  const feed = document.getElementById("feed");
  const note = document.getElementById("note");
  const listeners = [];
  const gw = window.mcpgw = {status: null, token: sessionStorage.getItem("mcpgateway.apiToken")};
  gw.onStatus = (f) => { listeners.push(f); if (gw.status) f(gw.status); };
  gw.say = (text) => { if (note) note.textContent = text; };
  gw.headers = (extra) => {
    const h = Object.assign({"X-Mcpgateway-Csrf": "1", "Accept": "application/json"}, extra || {});
    if (gw.token) h["Authorization"] = "Bearer " + gw.token;
    return h;
  };
  // A request to the gateway's API; asks for its token once when it answers 401.
  gw.api = async (path, options, retried) => {
    const opts = Object.assign({credentials: "same-origin"}, options || {});
    opts.headers = gw.headers(opts.headers);
    const r = await fetch(path, opts);
    if (r.status === 401 && !retried) {
      gw.token = prompt("The management API needs its token (--api-token):") || "";
      sessionStorage.setItem("mcpgateway.apiToken", gw.token);
      if (gw.token) return gw.api(path, options, true);
    }
    return r;
  };
  // The data of each event of an SSE response, in order, until the stream ends or each
  // returns true (the reader is then let go).
  gw.events = async (response, each) => {
    const reader = response.body.getReader();
    const text = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return false;
      buffer += text.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
        if (data && each(data)) { reader.cancel().catch(() => {}); return true; }
      }
    }
  };
  const routes = {
    restart: ["POST", "/restart"], "reset-circuit": ["POST", "/reset-circuit"],
    disable: ["PATCH", "", {enabled: false}], enable: ["PATCH", "", {enabled: true}],
    approve: ["POST", "/approve", null, "/api/v1/pins/"],
  };
  async function act(button) {
    const [method, suffix, preset, base] = routes[button.dataset.action];
    const server = button.dataset.server;
    // An approval names the change shown (its digest): one the server made since is not approved.
    const body = button.dataset.tool
      ? {tools: {[button.dataset.tool]: button.dataset.digest || null}} : preset;
    const headers = body ? {"Content-Type": "application/json"} : {};
    button.disabled = true;
    gw.say(button.dataset.action + " " + server + "\u2026");
    try {
      const r = await gw.api((base || "/api/v1/servers/") + encodeURIComponent(server) + suffix,
        {method, headers, body: body && JSON.stringify(body)});
      const answer = await r.json().catch(() => ({}));
      gw.say(r.ok ? button.dataset.action + " " + server + ": done"
        : button.dataset.action + " " + server + " refused (" + r.status + "): " + answer.error);
    } catch (e) {
      gw.say(button.dataset.action + " " + server + " failed: " + e);
    } finally {
      button.disabled = false;
    }
  }
  const panels = {};
  gw.panel = (name, open) => { panels[name] = open; };
  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const open = panels[button.dataset.action];
    if (open) open(button.dataset.server);
    else if (routes[button.dataset.action]) act(button);
  });
  if (!window.EventSource || !document.body.dataset.stream) return;  // a page without the stream
  const held = document.getElementById("held-count");
  const source = new EventSource(document.body.dataset.stream);
  source.onmessage = (e) => {
    const data = JSON.parse(e.data);
    // Keep the focus on the same control across the swap (keyboard users).
    const focused = document.activeElement;
    const box = focused && live.contains(focused) ? live
      : focused && needs.contains(focused) ? needs : null;
    const key = box && focused.dataset
      ? [focused.dataset.action, focused.dataset.server, focused.dataset.tool] : null;
    live.innerHTML = data.html;
    if (typeof data.needs === "string") needs.innerHTML = data.needs;
    if (key) {
      for (const b of box.querySelectorAll("button[data-action]")) {
        if (b.dataset.action === key[0] && b.dataset.server === key[1]
            && b.dataset.tool === key[2]) { b.focus(); break; }
      }
    }
    gw.status = data.status;
    if (held && data.status.approvals) held.textContent = String(data.status.approvals.pending);
    for (const f of listeners) { try { f(data.status); } catch (err) { console.warn(err); } }
    feed.textContent = "live"; feed.className = "feed live";
  };
  source.onerror = () => {
    const closed = source.readyState === 2;
    feed.textContent = closed ? "not live: reload the page" : "reconnecting\u2026";
    feed.className = "feed";
  };
})();
