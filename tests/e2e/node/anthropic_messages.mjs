// The Helicone quickstart's Anthropic TypeScript SDK example, run against a Switchyard gateway.
//
// Env: BASE_URL (the gateway root, exactly as the quickstart's baseURL), KEY (a gateway key).
// Prints ONE JSON line: {sdk, create, stream, badKey}; tests/e2e/test_node_anthropic.py checks it.
import { readFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";

const baseURL = process.env.BASE_URL;
const key = process.env.KEY;
if (!baseURL || !key) {
  console.error("BASE_URL and KEY must be set");
  process.exit(2);
}

// As in the quickstart: the key with a "Bearer " prefix, the gateway root as baseURL, no format mapping.
const client = new Anthropic({
  apiKey: `Bearer ${key}`,
  baseURL,
  defaultHeaders: {
    "Helicone-Gateway-Body-Mapping": "NO_MAPPING",
  },
});

async function create() {
  // The quickstart's request, unchanged; .withResponse() additionally exposes the HTTP response.
  const { data: response, response: raw } = await client.messages
    .create({
      model: "claude-3-7-sonnet-20250219/anthropic",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello!" }],
    })
    .withResponse();
  return {
    status: raw.status,
    heliconeId: raw.headers.get("helicone-id"),
    heliconeProvider: raw.headers.get("helicone-provider"),
    id: response.id,
    type: response.type,
    role: response.role,
    model: response.model,
    content: response.content,
    stopReason: response.stop_reason,
    usage: response.usage,
  };
}

async function stream() {
  // The same client, streaming with the SDK's helper, plus one Helicone property header.
  const s = client.messages.stream(
    {
      model: "claude-3-7-sonnet-20250219/anthropic",
      max_tokens: 100,
      messages: [{ role: "user", content: "What is 1 + 1?" }],
    },
    { headers: { "Helicone-Property-Sdk": "anthropic-node" } },
  );
  const events = [];
  let text = "";
  s.on("text", (delta) => {
    text += delta;
  });
  for await (const event of s) {
    events.push(event.type);
  }
  const final = await s.finalMessage();
  const { response: raw } = await s.withResponse();
  return {
    status: raw.status,
    contentType: raw.headers.get("content-type"),
    heliconeId: raw.headers.get("helicone-id"),
    events,
    text,
    final: { id: final.id, content: final.content, stopReason: final.stop_reason, usage: final.usage },
  };
}

async function badKey() {
  const bad = new Anthropic({
    apiKey: "Bearer sk-not-a-gateway-key",
    baseURL,
    maxRetries: 0,
    defaultHeaders: { "Helicone-Gateway-Body-Mapping": "NO_MAPPING" },
  });
  try {
    await bad.messages.create({
      model: "claude-3-7-sonnet-20250219/anthropic",
      max_tokens: 100,
      messages: [{ role: "user", content: "Hello!" }],
    });
    return { status: 200 };
  } catch (error) {
    return {
      status: error?.status ?? null,
      name: error?.constructor?.name ?? null,
      message: error?.message ?? String(error),
      error: error?.error ?? null,
      heliconeId: error?.headers?.get?.("helicone-id") ?? null,
    };
  }
}

const sdkVersion = JSON.parse(
  readFileSync(new URL("./node_modules/@anthropic-ai/sdk/package.json", import.meta.url), "utf8"),
).version;
const out = { sdk: { anthropic: sdkVersion, node: process.version } };
out.create = await create();
out.stream = await stream();
out.badKey = await badKey();
console.log(JSON.stringify(out));
