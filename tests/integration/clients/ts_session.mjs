// One TypeScript SDK client session that a test drives over stdin/stdout:
//   node ts_session.mjs v1|v2 URL
// v1 loads the TypeScript SDK 1.x from TS_SDK_DIR (@modelcontextprotocol/sdk),
// v2 the 2.x client package from TS_CLIENT2_DIR (@modelcontextprotocol/client).
// It connects once (initialize), prints {"event":"connected",...}, then reads one
// JSON command per stdin line and answers each with one JSON line carrying the
// command's "id":
//   {"id":1,"op":"call","name":"slow","arguments":{...},"progress":true,"timeoutMs":20000}
//     -> {"id":1,"ok":true,"result":{...},"progress":[1,2,...],"sessionId":"..."}
//     or {"id":1,"ok":false,"error":"...","code":...,"progress":[...],"sessionId":"..."}
//   {"id":2,"op":"session"} -> {"id":2,"ok":true,"sessionId":"..."}
//   {"id":3,"op":"close"}   -> {"id":3,"ok":true}, then exits
// Commands run concurrently. Unprompted lines: {"event":"error","message":...} for
// every error the client or its transport reports (a dropped stream, a failed
// reconnection), {"event":"notification","method":...,"params":...} for every
// notification that is not progress. The session lives until "close" or the end
// of stdin, so a test can restart the gateway under it.
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [flavour, url] = process.argv.slice(2);
let Client, StreamableHTTPClientTransport;
if (flavour === "v1") {
  const sdk = process.env.TS_SDK_DIR;
  const load = (rel) => import(pathToFileURL(`${sdk}/dist/esm/${rel}`).href);
  ({ Client } = await load("client/index.js"));
  ({ StreamableHTTPClientTransport } = await load("client/streamableHttp.js"));
} else if (flavour === "v2") {
  const pkg = process.env.TS_CLIENT2_DIR;
  ({ Client, StreamableHTTPClientTransport } = await import(
    pathToFileURL(`${pkg}/dist/index.mjs`).href
  ));
} else {
  console.error(`usage: ts_session.mjs v1|v2 URL (got ${flavour})`);
  process.exit(2);
}

const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const text = (error) => (error instanceof Error ? error.message : String(error));

const client = new Client({ name: `ts-session-${flavour}`, version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url));
client.onerror = (error) => say({ event: "error", message: text(error) });
client.fallbackNotificationHandler = async (n) =>
  say({ event: "notification", method: n.method, params: n.params ?? null });
await client.connect(transport);
say({
  event: "connected",
  sessionId: transport.sessionId ?? null,
  protocolVersion: transport.protocolVersion ?? null,
});

async function call(command) {
  const progress = [];
  const options = { timeout: command.timeoutMs ?? 20000 };
  if (command.progress) options.onprogress = (p) => progress.push(p.progress);
  const params = { name: command.name, arguments: command.arguments ?? {} };
  try {
    const result =
      flavour === "v1"
        ? await client.callTool(params, undefined, options)
        : await client.callTool(params, options);
    return { ok: true, result, progress, sessionId: transport.sessionId ?? null };
  } catch (error) {
    return {
      ok: false,
      error: text(error),
      code: error?.code ?? null,
      progress,
      sessionId: transport.sessionId ?? null,
    };
  }
}

async function run(command) {
  switch (command.op) {
    case "call":
      return call(command);
    case "session":
      return { ok: true, sessionId: transport.sessionId ?? null };
    case "close":
      await client.close();
      return { ok: true };
    default:
      return { ok: false, error: `unknown op ${command.op}` };
  }
}

const lines = createInterface({ input: process.stdin });
let closing = false;
for await (const line of lines) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  if (command.op === "close") {
    closing = true;
    say({ id: command.id, ...(await run(command)) });
    break;
  }
  run(command).then((answer) => say({ id: command.id, ...answer }));
}
if (!closing) await client.close();
process.exit(0);
