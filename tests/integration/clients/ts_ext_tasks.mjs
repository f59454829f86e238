// One MCP Tasks client built the way @modelcontextprotocol/ext-tasks documents it for a
// 2026-07-28 Tasks server: the TypeScript SDK 2.x Client (TS_CLIENT2_DIR) pinned to
// 2026-07-28 (versionNegotiation {mode: {pin}}), wrapped by ext-tasks'
// createTaskSessionFromClient (TS_EXT_TASKS_DIR) with the two options such a server
// needs: rawDispatch (the SDK's wire codecs reject task-shaped tools/call results, so
// the host posts tools/call and tasks/* itself: here one fetch per request, JSON or SSE
// answers) and v2RequestFraming (the _meta protocol version, client info and
// capabilities every such request carries).
//   node ts_ext_tasks.mjs URL poll                 slow_compute {seconds: 1.5} settled
//   node ts_ext_tasks.mjs URL elicit               confirm_delete, its question answered
//                                                   accept {confirm: true} (tasks/update)
//   node ts_ext_tasks.mjs URL cancel LABEL         slow_compute {seconds: 10}, cancelled
//                                                   once the task exists
//   node ts_ext_tasks.mjs URL start SECONDS LABEL  slow_compute made a task, handed off
//                                                   (not cancelled), its id printed
//   node ts_ext_tasks.mjs URL resume TASK_ID       an existing task recovered
//                                                   (session.resumeTask) and settled
// Each prints one JSON line: {"ok":true,"scenario":...,"kind":"task"|"immediate",
// "taskId":...,"status":"completed"|"failed"|"cancelled","text":...,"error":...,
// "events":[statuses seen],...} or {"ok":false,"error":"...","stack":...}.
// The endpoint id names the server's path, not its port: a restarted gateway listens
// on another port and is still the endpoint that holds the task.
import { pathToFileURL } from "node:url";

const VERSION = "2026-07-28";
const [url, scenario, ...rest] = process.argv.slice(2);
const load = (dir, rel) => import(pathToFileURL(`${dir}/${rel}`).href);
const { Client, StreamableHTTPClientTransport } = await load(
  process.env.TS_CLIENT2_DIR,
  "dist/index.mjs",
);
const ext = await load(process.env.TS_EXT_TASKS_DIR, "dist/client/index.js");

const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const fail = (error) => {
  say({
    ok: false,
    scenario,
    error: error instanceof Error ? error.message : String(error),
    code: error?.code ?? null,
    stack: error instanceof Error ? (error.stack ?? null) : null,
  });
  process.exit(1);
};
setTimeout(() => fail(new Error(`${scenario}: no outcome within 60 s`)), 60_000).unref();

const clientInfo = { name: "ts-ext-tasks", version: "1.0.0" };
const clientCapabilities = { elicitation: { form: {} } };
let requestIds = 0;

/** The body of one JSON-RPC answer to request `id`: a JSON document or an SSE stream. */
function answerIn(raw, contentType, id) {
  if (!contentType.includes("text/event-stream")) return JSON.parse(raw);
  const messages = raw
    .split(/\r?\n\r?\n/)
    .map((event) =>
      event
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n"),
    )
    .filter((data) => data.length > 0)
    .map((data) => JSON.parse(data));
  const answer = messages.find((message) => message.id === id && !("method" in message));
  if (answer === undefined) throw new Error(`no answer to request ${id} in the SSE stream`);
  return answer;
}

/** ext-tasks' rawDispatch: posts one framed request, returns {kind: result|error}. */
async function rawDispatch(request, options = {}) {
  const id = ++requestIds;
  const context = options.context ?? {};
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    "mcp-protocol-version": VERSION,
    "mcp-method": request.method,
  };
  for (const [name, value] of Object.entries(context.headers ?? {}))
    headers[name.toLowerCase()] = value;
  if (headers["mcp-name"] === undefined && typeof request.params?.name === "string")
    headers["mcp-name"] = request.params.name;
  const signals = [options.signal, context.requestTimeoutMs && AbortSignal.timeout(context.requestTimeoutMs)];
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id, ...request }),
      signal: AbortSignal.any(signals.filter(Boolean)),
    });
  } catch (error) {
    throw new ext.DispatchError(`POST ${request.method} failed`, false, { cause: error });
  }
  const raw = await response.text();
  let answer;
  try {
    answer = answerIn(raw, response.headers.get("content-type") ?? "", id);
  } catch (error) {
    throw new ext.DispatchError(
      `HTTP ${response.status} to ${request.method}: ${raw.slice(0, 200)}`,
      false,
      { cause: error },
    );
  }
  return "error" in answer
    ? { kind: "error", error: answer.error }
    : { kind: "result", result: answer.result };
}

const seen = [];
const client = new Client(clientInfo, {
  capabilities: clientCapabilities,
  versionNegotiation: { mode: { pin: VERSION } },
});
await client.connect(new StreamableHTTPClientTransport(new URL(url))).catch(fail);
const session = ext.createTaskSessionFromClient(client, {
  endpointId: await ext.createTaskSessionEndpointId("mcpgateway-tests", {
    path: new URL(url).pathname,
  }),
  rawDispatch,
  v2RequestFraming: { protocolVersion: VERSION, clientInfo, clientCapabilities },
  onInputRequest: async (request, context) => {
    seen.push({
      kind: request.kind,
      message: request.params?.message ?? null,
      delivery: context.delivery,
      scope: context.scope,
      inputId: context.inputId ?? null,
    });
    return { action: "accept", content: { confirm: true } };
  },
  onError: (error) => seen.push({ kind: "error", message: error.message }),
});

/** What an outcome says, as one JSON object. */
function described(execution, outcome, events) {
  return {
    ok: true,
    scenario,
    era: client.getProtocolEra?.() ?? null,
    capabilities: session.capabilities,
    kind: execution.kind,
    taskId: execution.handle?.taskId ?? null,
    status: outcome.status,
    text: outcome.status === "completed" ? (outcome.result?.content?.[0]?.text ?? null) : null,
    error: outcome.status === "failed" ? outcome.error.message : null,
    errorCode: outcome.status === "failed" ? (outcome.error.code ?? null) : null,
    events,
    seen,
  };
}

/** Settles `execution`, noting every task status it went through. */
async function settled(execution) {
  const events = [];
  const { outcome } = await execution.settle({
    onEvent: (event) => {
      if (event.type === "task") events.push(event.task.status);
    },
  });
  return described(execution, outcome, events);
}

async function poll() {
  return settled(await session.callTool("slow_compute", { seconds: 1.5, label: "poll" }));
}

async function elicit() {
  return settled(await session.callTool("confirm_delete", { filename: "notes.txt" }));
}

async function cancel() {
  const [label = "cancel"] = rest;
  const execution = await session.callTool("slow_compute", { seconds: 10, label });
  if (execution.kind !== "task") throw new Error("slow_compute did not become a task");
  const before = await session.task(execution.handle.taskId).snapshot();
  await execution.cancel();
  const outcome = await execution.result();
  const after = await session.task(execution.handle.taskId).snapshot();
  return { ...described(execution, outcome, [before.status]), serverStatus: after.status };
}

async function start() {
  const [seconds = "30", label = "start"] = rest;
  const execution = await session.callTool("slow_compute", { seconds: Number(seconds), label });
  if (execution.kind !== "task") throw new Error("slow_compute did not become a task");
  let reference;
  await execution.handoff((serialized) => {
    reference = serialized;
  });
  // Detached: its local result ends as closed, and closing the session then cancels nothing.
  await execution.result();
  const status = (await session.task(execution.handle.taskId).snapshot()).status;
  return { ok: true, scenario, kind: execution.kind, taskId: execution.handle.taskId, status, reference };
}

async function resume() {
  const [taskId] = rest;
  const execution = await session.resumeTask({
    endpointId: session.endpointId,
    generation: "v2",
    taskId,
    originalOperation: "tools/call",
  });
  return settled(execution);
}

const scenarios = { poll, elicit, cancel, start, resume };
if (!(scenario in scenarios)) fail(new Error(`unknown scenario ${scenario}`));
try {
  say(await scenarios[scenario]());
} catch (error) {
  fail(error);
}
await session.close().catch(() => {});
await client.close().catch(() => {});
process.exit(0);
