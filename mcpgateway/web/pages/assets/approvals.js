// The held calls' page: Allow and Deny through the API (console.js's token and CSRF header),
// the time left of each call counting down, and the list fetched again every few seconds
// (the calls opened, the reasons typed and the focus kept across the swap).
(() => {
  "use strict";
  const gw = window.mcpgw;
  const box = document.getElementById("approvals");
  if (!gw || !box) return;
  let shownAt = Date.now();
  let busy = false;
  const minutes = (s) => s >= 60 ? Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s"
    : s + " s";
  function tick() {
    const gone = (Date.now() - shownAt) / 1000;
    for (const span of box.querySelectorAll(".left[data-left]")) {
      const left = Math.floor(Number(span.dataset.left) - gone);
      span.textContent = left > 0 ? minutes(left) + " left" : "expired";
    }
  }
  async function refresh() {
    if (busy) return;
    let r;
    try {
      r = await fetch(document.body.dataset.list, {credentials: "same-origin"});
    } catch (e) {
      return;
    }
    if (!r.ok) return;
    const text = await r.text();
    const open = new Set([...box.querySelectorAll("li[data-call] details[open]")]
      .map((d) => d.closest("li").dataset.call));
    const reasons = new Map([...box.querySelectorAll("li[data-call] input[name=reason]")]
      .filter((i) => i.value).map((i) => [i.closest("li").dataset.call, i.value]));
    const focused = document.activeElement;
    const where = focused && box.contains(focused) && focused.closest("li[data-call]");
    const key = where ? [where.dataset.call, focused.name || "", focused.dataset.approval || ""]
      : null;
    box.innerHTML = text;
    shownAt = Date.now();
    for (const li of box.querySelectorAll("li[data-call]")) {
      const id = li.dataset.call;
      if (open.has(id)) li.querySelector("details").open = true;
      const input = li.querySelector("input[name=reason]");
      if (input && reasons.has(id)) input.value = reasons.get(id);
      if (key && id === key[0]) {
        for (const el of li.querySelectorAll("input, button, summary")) {
          if ((el.name || "") === key[1] && (el.dataset.approval || "") === key[2]) {
            el.focus(); break;
          }
        }
      }
    }
    tick();
  }
  async function decide(button) {
    const li = button.closest("li[data-call]");
    const action = button.dataset.approval;
    const input = li && li.querySelector("input[name=reason]");
    const reason = action === "deny" && input ? input.value.trim() : "";
    const headers = reason ? {"Content-Type": "application/json"} : {};
    busy = true;
    button.disabled = true;
    gw.say(action + "\u2026");
    try {
      const r = await gw.api("/api/v1/approvals/" + encodeURIComponent(button.dataset.id) + "/" + action,
        {method: "POST", headers, body: reason ? JSON.stringify({reason}) : undefined});
      const answer = await r.json().catch(() => ({}));
      gw.say(r.ok ? (action === "allow" ? "allowed" : "denied") + " the call of " + answer.tool
        + " of " + answer.server : action + " refused (" + r.status + "): " + answer.error);
    } catch (e) {
      gw.say(action + " failed: " + e);
    } finally {
      button.disabled = false;
      busy = false;
    }
    await refresh();
  }
  box.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-approval]");
    if (button) decide(button);
  });
  setInterval(tick, 1000);
  setInterval(refresh, 5000);
})();
