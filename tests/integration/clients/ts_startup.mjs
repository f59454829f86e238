// A TypeScript SDK 1.x client's start-up, then one call, for the lazy start tests:
//   node ts_startup.mjs URL
// connects (initialize), lists tools, prompts, resources and templates, and prints
// one JSON line with what it learned (serverInfo, capabilities, instructions, the
// lists); then waits for one line on stdin, calls `echo` and prints its text as a
// second JSON line. TS_SDK_DIR names the SDK package.
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const sdk = process.env.TS_SDK_DIR;
const load = (rel) => import(pathToFileURL(`${sdk}/dist/esm/${rel}`).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");

const [url] = process.argv.slice(2);
const client = new Client({ name: "ts-startup", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const seen = {
  serverInfo: client.getServerVersion(),
  capabilities: client.getServerCapabilities(),
  instructions: client.getInstructions() ?? null,
  tools: (await client.listTools()).tools,
  prompts: (await client.listPrompts()).prompts,
  resources: (await client.listResources()).resources,
  templates: (await client.listResourceTemplates()).resourceTemplates,
};
console.log(JSON.stringify(seen));
const lines = createInterface({ input: process.stdin });
for await (const _ of lines) {
  const result = await client.callTool({ name: "echo", arguments: { message: "from ts" } });
  console.log(JSON.stringify({ echo: result.content[0].text }));
  break;
}
await client.close();
process.exit(0);
