// The console's "Try a tool": a session of the page's own with a server, over MCP
// (POST /<server>/mcp, same origin), a form made from a tool's input schema, its call.
(() => {
  "use strict";
  const panel = document.getElementById("tryout");
  const gw = window.mcpgw;
  if (!panel || !gw) return;
  const VERSION = "2025-06-18";
  const pickServer = panel.querySelector("select[name=server]");
  const pickTool = panel.querySelector("select[name=tool]");
  const about = panel.querySelector(".about");
  const form = panel.querySelector(".form");
  const rawBox = panel.querySelector("input[name=raw]");
  const rawText = panel.querySelector("textarea[name=arguments]");
  const call = panel.querySelector("button[name=call]");
  const cancel = panel.querySelector("button[name=cancel]");
  const progress = panel.querySelector("progress");
  const state = panel.querySelector(".now");
  const result = panel.querySelector(".result");
  let session = null;   // {server, id, tools}
  let running = null;   // {id, abort}
  let root = null;      // the form's top field
  let ids = 0, fields = 0;

  function endpoint(server) { return "/" + encodeURIComponent(server) + "/mcp"; }
  function headers(extra) {
    const h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
      "MCP-Protocol-Version": VERSION};
    if (session && session.id) h["Mcp-Session-Id"] = session.id;
    return Object.assign(h, extra || {});
  }
  // One JSON-RPC message; a request's answer comes as JSON or as the SSE stream of the POST,
  // whose other messages (progress) go to onMessage.
  async function post(server, message, onMessage, signal) {
    const r = await fetch(endpoint(server), {method: "POST", headers: headers(), credentials: "same-origin",
      body: JSON.stringify(message), signal});
    if (!("id" in message)) return {response: r, message: null};
    const type = r.headers.get("content-type") || "";
    if (!type.startsWith("text/event-stream")) {
      const body = await r.json().catch(() => ({error: {message: "HTTP " + r.status}}));
      return {response: r, message: body};
    }
    let answer = null;
    await gw.events(r, (data) => {
      const m = JSON.parse(data);
      if (m.id === message.id && !m.method) { answer = m; return true; }
      if (onMessage) onMessage(m);
      return false;
    });
    return {response: r, message: answer || {error: {message: "the stream ended without an answer"}}};
  }
  async function close() {
    const old = session; session = null;
    if (old && old.id) {
      fetch(endpoint(old.server), {method: "DELETE", keepalive: true, credentials: "same-origin",
        headers: {"Mcp-Session-Id": old.id, "MCP-Protocol-Version": VERSION}}).catch(() => {});
    }
  }
  async function open(server) {
    await close();
    pickTool.replaceChildren(new Option("(choose)", ""));
    form.replaceChildren(); about.textContent = ""; result.replaceChildren(); root = null;
    call.disabled = true;
    if (!server) return;
    state.textContent = "opening a session with " + server + "\u2026";
    try {
      session = {server, id: null, tools: []};
      const init = await post(server, {jsonrpc: "2.0", id: ++ids, method: "initialize", params: {
        protocolVersion: VERSION, capabilities: {},
        clientInfo: {name: "mcpgateway-console", version: "1"}}});
      if (!init.message || !init.message.result) throw new Error(errorText(init.message, init.response));
      session.id = init.response.headers.get("mcp-session-id");
      await post(server, {jsonrpc: "2.0", method: "notifications/initialized"});
      let cursor = null;
      for (let page = 0; page < 20; page++) {
        const listed = await post(server, {jsonrpc: "2.0", id: ++ids, method: "tools/list",
          params: cursor ? {cursor} : {}});
        const r = listed.message && listed.message.result;
        if (!r) throw new Error(errorText(listed.message, listed.response));
        session.tools.push(...(r.tools || []));
        cursor = r.nextCursor; if (!cursor) break;
      }
      for (const tool of session.tools) pickTool.append(new Option(tool.title || tool.name, tool.name));
      state.textContent = session.tools.length + " tool(s) on " + server;
    } catch (e) {
      state.textContent = "could not list " + server + "'s tools: " + e.message;
    }
  }
  function errorText(message, response) {
    const error = message && message.error;
    if (error) return (error.message || JSON.stringify(error)) + (error.code ? " (" + error.code + ")" : "");
    return "HTTP " + (response ? response.status : "?");
  }

  // -- the form ---------------------------------------------------------------
  function typeOf(schema) {
    let t = schema.type;
    if (Array.isArray(t)) t = t.find((x) => x !== "null");
    if (!t && schema.properties) t = "object";
    if (!t && schema.enum) t = "enum";
    return t;
  }
  function label(text, input, hint) {
    const wrap = document.createElement("div"); wrap.className = "field";
    const l = document.createElement("label"); l.htmlFor = input.id = "f" + (++fields); l.textContent = text;
    wrap.append(l, input);
    if (hint) {
      const h = document.createElement("span"); h.className = "hint"; h.id = input.id + "-hint";
      h.textContent = hint; wrap.append(h); input.setAttribute("aria-describedby", h.id);
    }
    return wrap;
  }
  function field(schema, name, required, depth) {
    schema = schema && typeof schema === "object" ? schema : {};
    const title = (schema.title || name) + (required ? " *" : "");
    const hint = schema.description || "";
    const t = typeOf(schema);
    if (schema.enum && depth < 6) {
      const select = document.createElement("select");
      if (!required) select.append(new Option("(none)", ""));
      for (const v of schema.enum) select.append(new Option(String(v), JSON.stringify(v)));
      if (schema.default !== undefined) select.value = JSON.stringify(schema.default);
      return {el: label(title, select, hint), get: () => select.value === "" ? [false] : [true, JSON.parse(select.value)]};
    }
    if (t === "string" || t === "number" || t === "integer") {
      const input = document.createElement("input");
      if (t !== "string") { input.type = "number"; input.step = t === "integer" ? "1" : "any"; }
      if (required) input.required = true;
      if (schema.default !== undefined) input.value = String(schema.default);
      return {el: label(title, input, hint), get: () => {
        if (input.value === "") return required && t === "string" ? [true, ""] : [false];
        return [true, t === "string" ? input.value : Number(input.value)];
      }};
    }
    if (t === "boolean") {
      const input = document.createElement("input"); input.type = "checkbox";
      input.checked = schema.default === true;
      const wrap = label(title, input, hint); wrap.classList.add("check");
      let touched = false; input.addEventListener("change", () => { touched = true; });
      return {el: wrap, get: () => (required || touched || schema.default !== undefined) ? [true, input.checked] : [false]};
    }
    if (t === "object" && schema.properties && depth < 6) {
      const set = document.createElement("fieldset");
      const legend = document.createElement("legend"); legend.textContent = title; set.append(legend);
      if (hint) { const p = document.createElement("p"); p.className = "hint"; p.textContent = hint; set.append(p); }
      const need = new Set(schema.required || []);
      const parts = Object.entries(schema.properties).map(([k, s]) => [k, field(s, k, need.has(k), depth + 1)]);
      for (const [, part] of parts) set.append(part.el);
      return {el: set, get: () => {
        const out = {};
        for (const [k, part] of parts) { const [has, v] = part.get(); if (has) out[k] = v; }
        return (required || Object.keys(out).length) ? [true, out] : [false];
      }};
    }
    if (t === "array" && schema.items && typeof schema.items === "object" && depth < 6) {
      const set = document.createElement("fieldset");
      const legend = document.createElement("legend"); legend.textContent = title; set.append(legend);
      const items = [];
      const add = document.createElement("button"); add.type = "button"; add.textContent = "Add an item to " + name;
      add.addEventListener("click", () => {
        const item = field(schema.items, name + " " + (items.length + 1), true, depth + 1);
        const box = document.createElement("div");
        const remove = document.createElement("button"); remove.type = "button";
        remove.textContent = "Remove " + name + " " + (items.length + 1);
        remove.addEventListener("click", () => { items.splice(items.indexOf(item), 1); box.remove(); });
        box.append(item.el, remove); set.insertBefore(box, add); items.push(item);
      });
      set.append(add);
      return {el: set, get: () => {
        const out = items.map((i) => i.get()).filter(([has]) => has).map(([, v]) => v);
        return (required || out.length) ? [true, out] : [false];
      }};
    }
    // What the form cannot show: raw JSON.
    const area = document.createElement("textarea");
    if (schema.default !== undefined) area.value = JSON.stringify(schema.default, null, 2);
    return {el: label(title + " (JSON)", area, hint), get: () => {
      if (area.value.trim() === "") return [false];
      try { return [true, JSON.parse(area.value)]; }
      catch (e) { throw new Error(name + ": not JSON (" + e.message + ")"); }
    }};
  }
  function chooseTool(name) {
    form.replaceChildren(); result.replaceChildren(); root = null;
    const tool = session && session.tools.find((t) => t.name === name);
    call.disabled = !tool;
    if (!tool) { about.textContent = ""; return; }
    about.textContent = tool.description || "";
    const schema = tool.inputSchema && typeof tool.inputSchema === "object" ? tool.inputSchema : {type: "object"};
    root = field(Object.assign({type: "object"}, schema, {title: "arguments"}), "arguments", true, 0);
    form.append(root.el);
    rawText.value = "{}";
  }
  function args() {
    if (rawBox.checked) return JSON.parse(rawText.value || "{}");
    return root ? root.get()[1] || {} : {};
  }

  // -- the call ---------------------------------------------------------------
  function show(message, millis) {
    result.replaceChildren();
    const head = document.createElement("p");
    const r = message && message.result;
    if (!r) {
      head.className = "bad"; head.textContent = "error after " + millis + " ms: " + errorText(message);
      result.append(head); return;
    }
    head.textContent = (r.isError ? "the tool answered an error" : "done") + " in " + millis + " ms";
    if (r.isError) head.className = "bad";
    result.append(head);
    for (const item of r.content || []) {
      if (item.type === "image" && typeof item.data === "string" && /^image\/[a-z0-9.+-]+$/i.test(item.mimeType || "")) {
        const img = document.createElement("img");
        img.src = "data:" + item.mimeType + ";base64," + item.data;
        img.alt = "an image the tool returned (" + item.mimeType + ")";
        result.append(img);
      } else {
        const pre = document.createElement("pre");
        pre.textContent = item.type === "text" ? String(item.text) : JSON.stringify(item, null, 2);
        result.append(pre);
      }
    }
    if (r.structuredContent !== undefined) {
      const h = document.createElement("h4"); h.textContent = "structured content";
      const pre = document.createElement("pre"); pre.textContent = JSON.stringify(r.structuredContent, null, 2);
      result.append(h, pre);
    }
  }
  async function run() {
    if (!session || !pickTool.value || running) return;
    let values;
    try { values = args(); } catch (e) { state.textContent = e.message; return; }
    const id = ++ids, token = "console-" + id, abort = new AbortController();
    running = {id, abort};
    call.disabled = true; cancel.disabled = false;
    progress.hidden = false; progress.removeAttribute("value");
    result.replaceChildren();
    state.textContent = "calling " + pickTool.value + "\u2026";
    const started = performance.now();
    try {
      const answer = await post(session.server, {jsonrpc: "2.0", id, method: "tools/call",
        params: {name: pickTool.value, arguments: values, _meta: {progressToken: token}}},
        (m) => {
          if (m.method === "notifications/progress" && m.params && m.params.progressToken === token) {
            const p = m.params;
            if (typeof p.total === "number" && p.total > 0) { progress.max = p.total; progress.value = p.progress; }
            state.textContent = "running: " + (p.message || (p.progress + (p.total ? " / " + p.total : "")));
          }
        }, abort.signal);
      show(answer.message, Math.round(performance.now() - started));
      state.textContent = "";
    } catch (e) {
      state.textContent = abort.signal.aborted ? "cancelled" : "the call failed: " + e.message;
    } finally {
      running = null; call.disabled = false; cancel.disabled = true; progress.hidden = true;
    }
  }
  cancel.addEventListener("click", () => {
    if (!running || !session) return;
    post(session.server, {jsonrpc: "2.0", method: "notifications/cancelled",
      params: {requestId: running.id, reason: "cancelled from the console"}}).catch(() => {});
    running.abort.abort();
  });
  call.addEventListener("click", run);
  pickServer.addEventListener("change", () => open(pickServer.value));
  pickTool.addEventListener("change", () => chooseTool(pickTool.value));
  rawBox.addEventListener("change", () => {
    if (rawBox.checked) { try { rawText.value = JSON.stringify(root ? root.get()[1] || {} : {}, null, 2); } catch (e) { /* keep */ } }
    rawText.hidden = !rawBox.checked; form.hidden = rawBox.checked;
  });
  window.addEventListener("pagehide", close);
  gw.onStatus((status) => {
    const names = status.servers.filter((s) => !s.disabled).map((s) => s.key);
    const have = Array.from(pickServer.options).slice(1).map((o) => o.value);
    if (names.join("\n") === have.join("\n")) return;
    const keep = pickServer.value;
    pickServer.replaceChildren(new Option("(choose)", ""));
    for (const n of names) pickServer.append(new Option(n, n));
    pickServer.value = names.includes(keep) ? keep : "";
  });
  gw.panel("try", (name) => {
    if (!Array.from(pickServer.options).some((o) => o.value === name)) pickServer.append(new Option(name, name));
    pickServer.value = name; open(name);
    panel.scrollIntoView({block: "start"}); pickServer.focus();
  });
})();
