// The Vercel AI SDK (`ai` with `@ai-sdk/openai` and `@ai-sdk/anthropic`) against a Switchyard gateway: one case
// per run, chosen by the environment, as an application built on the SDK would make the call.
//
// Env: BASE_URL (gateway root), KEY (gateway key), CLIENT (responses | chat | anthropic), MODEL (gateway model id),
//      TASK (loop | object | stream), REASONING ("1": reasoning on).
// Prints ONE JSON line: {sdk, ok, result | error}; tests/e2e/clients/test_node_ai_sdk.py checks it with what the mock saw.
import { readFileSync } from "node:fs";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const { BASE_URL: baseURL, KEY: apiKey, CLIENT: client, MODEL: modelId, TASK: task } = process.env;
const reasoning = process.env.REASONING === "1";
// The SDK's warnings (unknown model, unsupported setting) are part of what the client saw: collected, not printed.
const warnings = [];
globalThis.AI_SDK_LOG_WARNINGS = ({ warnings: list }) => warnings.push(...list.map((w) => w.details ?? w.message ?? w.feature));
if (!baseURL || !apiKey || !client || !modelId || !task) {
  console.error("BASE_URL, KEY, CLIENT, MODEL and TASK must be set");
  process.exit(2);
}

function model() {
  if (client === "anthropic") return createAnthropic({ baseURL: `${baseURL}/v1`, apiKey })(modelId);
  const openai = createOpenAI({ baseURL: `${baseURL}/v1`, apiKey });
  return client === "chat" ? openai.chat(modelId) : openai(modelId); // openai(id) is the Responses API (store on)
}

// Reasoning as each provider package asks for it. The OpenAI package sends reasoning only for ids it knows as
// reasoning models; behind a gateway the documented switch is `forceReasoning`.
function providerOptions() {
  if (!reasoning) return undefined;
  if (client === "anthropic") return { anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } } };
  return { openai: { reasoningEffort: "low", forceReasoning: true } };
}

// The agent loop's one tool, as the Python clients of the matrix define it (tests/support/client_matrix.py).
const executed = [];
const tools = {
  get_weather: tool({
    description: "Current weather in a city.",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      executed.push({ name: "get_weather", input: { city } });
      return { city, temp_c: 21, sky: "clear" };
    },
  }),
};

function errorInfo(error) {
  return {
    name: error?.name ?? error?.constructor?.name ?? null,
    message: String(error?.message ?? error).slice(0, 2000),
    status: error?.statusCode ?? error?.lastError?.statusCode ?? null,
    body: (error?.responseBody ?? error?.lastError?.responseBody ?? null)?.slice?.(0, 2000) ?? null,
    text: error?.text ?? null,
  };
}

function stepInfo(step) {
  return {
    finishReason: step.finishReason,
    text: step.text,
    reasoning: step.reasoningText ?? null,
    toolCalls: step.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
    usage: step.usage,
    heliconeId: step.response?.headers?.["helicone-id"] ?? null,
  };
}

const maxRetries = 0;

// Turn 1: the SDK runs the tool loop itself (tool call, local execution, tool result back, answer);
// turn 2: the user continues the same conversation with the SDK's own response messages.
async function loop() {
  const first = [{ role: "user", content: "What is the weather in Paris?" }];
  const r = await generateText({ model: model(), tools, stopWhen: stepCountIs(4), messages: first, providerOptions: providerOptions(), maxRetries });
  const out = { steps: r.steps.map(stepInfo), executed: [...executed], text: r.text, followup: null };
  const history = [...first, ...r.response.messages, { role: "user", content: "Thanks! And tomorrow?" }];
  try {
    const f = await generateText({ model: model(), tools, stopWhen: stepCountIs(2), messages: history, providerOptions: providerOptions(), maxRetries });
    out.followup = { ok: true, text: f.text, steps: f.steps.map(stepInfo) };
  } catch (error) {
    out.followup = { ok: false, error: errorInfo(error) };
  }
  return out;
}

async function object() {
  const schema = z.object({ city: z.string(), temp_c: z.number().int() });
  const r = await generateObject({
    model: model(), schema, schemaName: "weather", prompt: "Weather in Paris as JSON",
    providerOptions: providerOptions(), maxRetries,
  });
  return { object: r.object, finishReason: r.finishReason, usage: r.usage, heliconeId: r.response?.headers?.["helicone-id"] ?? null };
}

async function stream() {
  const r = streamText({ model: model(), prompt: "Weather in Paris?", providerOptions: providerOptions(), maxRetries });
  let text = "";
  let reasoningText = "";
  let deltas = 0;
  let error = null;
  for await (const part of r.fullStream) {
    if (part.type === "text-delta") {
      text += part.text;
      deltas += 1;
    } else if (part.type === "reasoning-delta") reasoningText += part.text;
    else if (part.type === "error") error = errorInfo(part.error);
  }
  if (error) throw Object.assign(new Error(error.message), { streamed: error });
  const response = await r.response;
  return {
    text, reasoning: reasoningText, deltas, finishReason: await r.finishReason, usage: await r.usage,
    heliconeId: response.headers?.["helicone-id"] ?? null,
  };
}

const version = (name) => JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), "utf8")).version;
const out = { sdk: { ai: version("ai"), openai: version("@ai-sdk/openai"), anthropic: version("@ai-sdk/anthropic"), node: process.version } };
try {
  out.result = await { loop, object, stream }[task]();
  out.ok = true;
} catch (error) {
  out.ok = false;
  out.error = error.streamed ?? errorInfo(error);
}
out.warnings = [...new Set(warnings)];
console.log(JSON.stringify(out));
