#!/usr/bin/env node
// One client process of `doorfleet.py`: S sessions of the official TypeScript
// MCP SDK (a `Client` over a `StreamableHTTPClientTransport`, Node's global
// fetch) on each of the servers named, each holding the GET stream the
// transport opens after `notifications/initialized`, as an editor holding
// its sessions open does.
//
//   node benchmarks/doorfleet.mjs --base URL --servers a,b,c --sessions S
//       [--sdk-dir DIR]
//
// It opens every session (16 at a time; `connect`, then `listTools`), prints
// `{"event":"open", ...}`, and waits for a line on stdin; then each session
// calls the server's `count` tool once (the streams still held), prints
// `{"event":"result", ...}` and closes them all (a DELETE each). A session
// that fails to open, or a call that fails, is counted with a sample of
// why. The SDK is imported by absolute path from --sdk-dir (default:
// $TS_SDK_DIR).

import { createInterface } from "node:readline";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { resolveExport } from "./sdkexports.mjs";

const OPEN_AT_ONCE = 16;
const OPEN_MS = 60000;

function out(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function options() {
  const { values } = parseArgs({
    options: {
      base: { type: "string" },
      servers: { type: "string" },
      sessions: { type: "string", default: "1" },
      "sdk-dir": { type: "string", default: process.env.TS_SDK_DIR ?? "" },
    },
  });
  if (!values.base || !values.servers || !values["sdk-dir"]) {
    throw new Error("usage: doorfleet.mjs --base URL --servers a,b --sessions S [--sdk-dir DIR]");
  }
  return {
    base: values.base,
    servers: values.servers.split(","),
    sessions: Number(values.sessions),
    sdkDir: values["sdk-dir"],
  };
}

function sample(list, error) {
  if (list.length < 5) list.push(`${error?.name}: ${String(error?.message).slice(0, 200)}`);
}

async function openAll(sdk, args) {
  const wanted = [];
  for (let s = 0; s < args.sessions; s++) for (const server of args.servers) wanted.push(server);
  const sessions = [];
  const failures = { count: 0, samples: [] };
  let next = 0;
  async function worker() {
    while (next < wanted.length) {
      const server = wanted[next++];
      const client = new sdk.Client({ name: "doorfleet", version: "1" });
      const transport = new sdk.StreamableHTTPClientTransport(new URL(`${args.base}/${server}/mcp`));
      try {
        await client.connect(transport, { timeout: OPEN_MS });
        await client.listTools(undefined, { timeout: OPEN_MS });
        sessions.push({ client, transport, server });
      } catch (error) {
        failures.count += 1;
        sample(failures.samples, error);
        await client.close().catch(() => {});
      }
    }
  }
  await Promise.all(Array.from({ length: OPEN_AT_ONCE }, worker));
  return { sessions, failures };
}

async function callAll(sessions) {
  const tally = { ok: 0, failed: 0, samples: [] };
  await Promise.all(
    sessions.map(async (s) => {
      try {
        const result = await s.client.callTool({ name: "count", arguments: {} }, undefined, {
          timeout: OPEN_MS,
        });
        const text = result.content?.[0]?.text ?? "";
        if (!result.isError && text.startsWith("count=")) tally.ok += 1;
        else {
          tally.failed += 1;
          sample(tally.samples, new Error(`isError or unexpected: ${text}`));
        }
      } catch (error) {
        tally.failed += 1;
        sample(tally.samples, error);
      }
    }),
  );
  return tally;
}

async function main() {
  const args = options();
  const sdk = {
    ...(await import(resolveExport(args.sdkDir, "./client"))),
    ...(await import(resolveExport(args.sdkDir, "./client/streamableHttp.js"))),
  };
  const lines = createInterface({ input: process.stdin });
  const { sessions, failures } = await openAll(sdk, args);
  out("open", { sessions: sessions.length, failed: failures.count, samples: failures.samples });
  await once(lines, "line");
  const calls = await callAll(sessions);
  out("result", { ok: calls.ok, failed: calls.failed, samples: calls.samples });
  await Promise.race([
    Promise.all(
      sessions.map(async (s) => {
        await s.transport.terminateSession().catch(() => {});
        await s.client.close().catch(() => {});
      }),
    ),
    new Promise((resolve) => setTimeout(resolve, 15000)),
  ]);
}

main()
  .catch((error) => out("failed", { error: `${error?.name}: ${error?.message}` }))
  .finally(() => process.stdout.write("", () => process.exit(0)));
