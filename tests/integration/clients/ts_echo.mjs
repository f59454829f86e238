// A TypeScript SDK client session for the routing tests:
//   node ts_echo.mjs URL LABEL CALLS
// connects (initialize, id 0), calls `echo` CALLS times with unique messages,
// and prints the answers as one JSON array. TS_SDK_DIR names the SDK package.
import { pathToFileURL } from "node:url";

const sdk = process.env.TS_SDK_DIR;
const load = (rel) => import(pathToFileURL(`${sdk}/dist/esm/${rel}`).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");

const [url, label, calls] = process.argv.slice(2);
const client = new Client({ name: `ts-${label}`, version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const answers = [];
for (let i = 0; i < Number(calls); i++) {
  const result = await client.callTool({ name: "echo", arguments: { message: `${label} call ${i}` } });
  answers.push(result.content[0].text);
}
console.log(JSON.stringify(answers));
await client.close();
