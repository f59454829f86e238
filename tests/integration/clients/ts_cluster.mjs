// A TypeScript SDK 1.x client session for the cluster tests:
//   node ts_cluster.mjs URL LABEL CALLS PAUSE_MS
// connects (initialize) with `Authorization: $MCP_AUTHORIZATION` on every request,
// waits for one line on stdin (the go: every session of a test is connected), then
// calls `echo` CALLS times with unique messages, PAUSE_MS apart, going on after a
// failed call. One JSON line per event on stdout:
//   {"event":"connected","sessionId":"..."}
//   {"event":"call","i":3,"ok":true,"text":"Echo: ...","start":ms,"end":ms,"sessionId":"..."}
//   {"event":"call","i":4,"ok":false,"error":"...","start":ms,"end":ms,"sessionId":"..."}
//   {"event":"done"}
// (times: milliseconds since the epoch). TS_SDK_DIR names the SDK package.
import { once } from "node:events";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const sdk = process.env.TS_SDK_DIR;
const load = (rel) => import(pathToFileURL(`${sdk}/dist/esm/${rel}`).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");

const [url, label, calls, pause] = process.argv.slice(2);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const headers = process.env.MCP_AUTHORIZATION
  ? { Authorization: process.env.MCP_AUTHORIZATION }
  : {};
const client = new Client({ name: `ts-${label}`, version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
client.onerror = () => {}; // a dropped GET stream while a replica dies: the calls tell
await client.connect(transport);
say({ event: "connected", sessionId: transport.sessionId ?? null });
await once(createInterface({ input: process.stdin }), "line");
for (let i = 0; i < Number(calls); i++) {
  const start = Date.now();
  try {
    const result = await client.callTool(
      { name: "echo", arguments: { message: `${label} call ${i}` } },
      undefined,
      { timeout: 20000 },
    );
    say({
      event: "call", i, ok: true, text: result.content[0].text, start, end: Date.now(),
      sessionId: transport.sessionId ?? null,
    });
  } catch (error) {
    say({
      event: "call", i, ok: false, error: String(error?.message ?? error), start, end: Date.now(),
      sessionId: transport.sessionId ?? null,
    });
  }
  if (Number(pause) > 0) await new Promise((resolve) => setTimeout(resolve, Number(pause)));
}
say({ event: "done" });
await client.close();
process.exit(0);
