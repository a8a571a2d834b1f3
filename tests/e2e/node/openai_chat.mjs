// The Helicone quickstart's OpenAI Node SDK example, run against a Switchyard gateway.
//
// Env: BASE_URL (the gateway root, WITHOUT /v1, exactly as the quickstart's baseURL), KEY (a gateway key).
// Prints ONE JSON line: {sdk, chat, stream, badKey, rateLimited}; tests/e2e/test_node_sdk.py checks it.
import { readFileSync } from "node:fs";
import OpenAI from "openai";

const baseURL = process.env.BASE_URL;
const apiKey = process.env.KEY;
if (!baseURL || !apiKey) {
  console.error("BASE_URL and KEY must be set");
  process.exit(2);
}

// As in the quickstart: baseURL is the gateway root, no /v1.
const client = new OpenAI({ baseURL, apiKey });

function errorInfo(error) {
  return {
    status: error?.status ?? null,
    name: error?.constructor?.name ?? null,
    message: error?.message ?? String(error),
    type: error?.type ?? null,
    code: error?.code ?? null,
    heliconeId: error?.headers?.get?.("helicone-id") ?? null,
  };
}

async function chat() {
  // The quickstart's request, unchanged; .withResponse() additionally exposes the HTTP response.
  const { data: response, response: raw } = await client.chat.completions
    .create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "What is the capital of France?" }],
    })
    .withResponse();
  return {
    status: raw.status,
    heliconeId: raw.headers.get("helicone-id"),
    heliconeProvider: raw.headers.get("helicone-provider"),
    id: response.id,
    object: response.object,
    model: response.model,
    content: response.choices[0].message.content,
    finishReason: response.choices[0].finish_reason,
    usage: response.usage,
  };
}

async function stream() {
  // The quickstart's streaming example, plus one Helicone property header sent per request.
  const { data: stream, response: raw } = await client.chat.completions
    .create(
      {
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Tell me a story" }],
        stream: true,
      },
      { headers: { "Helicone-Property-Sdk": "openai-node" } },
    )
    .withResponse();
  let text = "";
  let chunks = 0;
  let finishReason = null;
  let usage = null;
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.choices[0]?.delta?.content || "";
    if (chunk.choices[0]?.finish_reason) finishReason = chunk.choices[0].finish_reason;
    if (chunk.usage) usage = chunk.usage;
  }
  return {
    status: raw.status,
    contentType: raw.headers.get("content-type"),
    heliconeId: raw.headers.get("helicone-id"),
    text,
    chunks,
    finishReason,
    usage,
  };
}

async function badKey() {
  // The quickstart's error-handling section: a wrong key must surface as error.status === 401.
  const bad = new OpenAI({ baseURL, apiKey: "sk-not-a-gateway-key", maxRetries: 0 });
  try {
    await bad.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello!" }] });
    return { status: 200 };
  } catch (error) {
    return errorInfo(error);
  }
}

async function rateLimited() {
  // Upstream 429 (the mock replays a recorded one): error.status === 429, as the quickstart describes.
  const noRetry = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  try {
    await noRetry.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello! [[error:429]]" }] });
    return { status: 200 };
  } catch (error) {
    return errorInfo(error);
  }
}

const sdkVersion = JSON.parse(readFileSync(new URL("./node_modules/openai/package.json", import.meta.url), "utf8")).version;
const out = { sdk: { openai: sdkVersion, node: process.version } };
out.chat = await chat();
out.stream = await stream();
out.badKey = await badKey();
out.rateLimited = await rateLimited();
console.log(JSON.stringify(out));
