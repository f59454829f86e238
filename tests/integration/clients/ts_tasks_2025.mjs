// A TypeScript SDK 1.x client using the SDK's experimental tasks (MCP 2025-11-25)
// against a gateway whose child serves no tasks itself:
//   node ts_tasks_2025.mjs URL
// lists the tools, runs slow_compute as a task to its result (callToolStream),
// reads it back (getTask, getTaskResult, listTasks), then starts another and
// cancels it, then runs confirm_delete (which asks through elicitation) as a
// task and answers it, reading the task's status while the question waits;
// prints one JSON object of what it saw. TS_SDK_DIR names the SDK.
import { pathToFileURL } from "node:url";

const sdk = process.env.TS_SDK_DIR;
const load = (rel) => import(pathToFileURL(`${sdk}/dist/esm/${rel}`).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");
const { CallToolResultSchema, ElicitRequestSchema } = await load("types.js");

const [url] = process.argv.slice(2);
const client = new Client(
  { name: "ts-tasks-2025", version: "1.0.0" },
  { capabilities: { elicitation: {} } },
);
const asked = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  const related = request.params._meta?.["io.modelcontextprotocol/related-task"]?.taskId ?? null;
  const status = related ? (await client.experimental.tasks.getTask(related)).status : null;
  asked.push({ related, status });
  return { action: "accept", content: { confirm: true } };
});
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const seen = {
  protocolVersion: client.transport?.protocolVersion ?? null,
  serverTasks: client.getServerCapabilities()?.tasks ?? null,
};
const { tools } = await client.listTools();
seen.slowExecution = tools.find((t) => t.name === "slow_compute")?.execution ?? null;

const messages = [];
let taskId = null;
const stream = client.experimental.tasks.callToolStream(
  { name: "slow_compute", arguments: { seconds: 1, label: "ts" } },
  CallToolResultSchema,
  { task: { ttl: 60000 } },
);
for await (const message of stream) {
  messages.push(message.type);
  if (message.type === "taskCreated") taskId = message.task.taskId;
  if (message.type === "result") seen.result = message.result.content?.[0]?.text ?? null;
  if (message.type === "error") seen.error = String(message.error?.message ?? message.error);
}
seen.messages = messages;
seen.taskId = taskId;
if (taskId) {
  seen.got = (await client.experimental.tasks.getTask(taskId)).status;
  const again = await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
  seen.resultAgain = again.content?.[0]?.text ?? null;
  seen.listed = (await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId);
}

// A second task, cancelled while it runs.
const second = client.experimental.tasks.callToolStream(
  { name: "slow_compute", arguments: { seconds: 10, label: "cancel" } },
  CallToolResultSchema,
  { task: { ttl: 60000 } },
);
const first = await second.next();
if (first.value?.type === "taskCreated") {
  const id = first.value.task.taskId;
  seen.cancelled = (await client.experimental.tasks.cancelTask(id)).status;
  seen.afterCancel = (await client.experimental.tasks.getTask(id)).status;
}
await second.return?.();

// A task whose tool asks the client something first.
const third = client.experimental.tasks.callToolStream(
  { name: "confirm_delete", arguments: { filename: "notes.txt" } },
  CallToolResultSchema,
  { task: { ttl: 60000 } },
);
for await (const message of third) {
  if (message.type === "taskCreated") seen.askingTask = message.task.taskId;
  if (message.type === "result") seen.asked = message.result.content?.[0]?.text ?? null;
  if (message.type === "error") seen.askedError = String(message.error?.message ?? message.error);
}
seen.questions = asked;
seen.afterAnswer = seen.askingTask
  ? (await client.experimental.tasks.getTask(seen.askingTask)).status
  : null;
console.log(JSON.stringify(seen));
await client.close();
