// The Vercel AI SDK (`ai` with `@ai-sdk/openai` and `@ai-sdk/anthropic`) against a Switchyard gateway: every case
// of the matrix in one node process (the SDK import costs more than a case), as an application built on the SDK
// would make the calls.
//
// Env: BASE_URL (gateway root), KEY (gateway key), CASES (JSON list of {id, client, model, task, reasoning}:
//      client responses | chat | anthropic, task loop | object | stream), PARALLEL (cases in flight, default 6).
// Every prompt of a case carries the marker `[case:<id>]`, so the test can tell its upstream requests from the
// others'. Prints ONE JSON line per case: {id, sdk, ok, result | error, warnings}; checked by
// tests/e2e/clients/test_node_ai_sdk.py together with what the mock saw.
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const { BASE_URL: baseURL, KEY: apiKey } = process.env;
if (!baseURL || !apiKey || !process.env.CASES) {
  console.error("BASE_URL, KEY and CASES must be set");
  process.exit(2);
}
const cases = JSON.parse(process.env.CASES);
const parallel = Math.max(1, Number(process.env.PARALLEL ?? 6));
const maxRetries = 0;
const caseTimeoutMs = 90_000;

// The SDK's warnings (unknown model, unsupported setting) are part of what the client saw: collected per case
// (the logger runs inside the case's async context), not printed.
const current = new AsyncLocalStorage();
globalThis.AI_SDK_LOG_WARNINGS = ({ warnings: list }) =>
  current.getStore()?.warnings.push(...list.map((w) => w.details ?? w.message ?? w.feature));

function model(c) {
  if (c.client === "anthropic") return createAnthropic({ baseURL: `${baseURL}/v1`, apiKey })(c.model);
  const openai = createOpenAI({ baseURL: `${baseURL}/v1`, apiKey });
  return c.client === "chat" ? openai.chat(c.model) : openai(c.model); // openai(id) is the Responses API (store on)
}

// Reasoning as each provider package asks for it. The OpenAI package sends reasoning only for ids it knows as
// reasoning models; behind a gateway the documented switch is `forceReasoning`.
function providerOptions(c) {
  if (!c.reasoning) return undefined;
  if (c.client === "anthropic") return { anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } } };
  return { openai: { reasoningEffort: "low", forceReasoning: true } };
}

// The agent loop's one tool, as the Python clients of the matrix define it (tests/support/client_matrix.py);
// one set per case, so each case records only its own executions.
function weatherTools(executed) {
  return {
    get_weather: tool({
      description: "Current weather in a city.",
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        executed.push({ name: "get_weather", input: { city } });
        return { city, temp_c: 21, sky: "clear" };
      },
    }),
  };
}

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

// Turn 1: the SDK runs the tool loop itself (tool call, local execution, tool result back, answer);
// turn 2: the user continues the same conversation with the SDK's own response messages.
async function loop(c, tag) {
  const executed = [];
  const tools = weatherTools(executed);
  const first = [{ role: "user", content: `What is the weather in Paris? ${tag}` }];
  const r = await generateText({ model: model(c), tools, stopWhen: stepCountIs(4), messages: first, providerOptions: providerOptions(c), maxRetries });
  const out = { steps: r.steps.map(stepInfo), executed: [...executed], text: r.text, followup: null };
  const history = [...first, ...r.response.messages, { role: "user", content: `Thanks! And tomorrow? ${tag}` }];
  try {
    const f = await generateText({ model: model(c), tools, stopWhen: stepCountIs(2), messages: history, providerOptions: providerOptions(c), maxRetries });
    out.followup = { ok: true, text: f.text, steps: f.steps.map(stepInfo) };
  } catch (error) {
    out.followup = { ok: false, error: errorInfo(error) };
  }
  return out;
}

async function object(c, tag) {
  const schema = z.object({ city: z.string(), temp_c: z.number().int() });
  const r = await generateObject({
    model: model(c), schema, schemaName: "weather", prompt: `Weather in Paris as JSON ${tag}`,
    providerOptions: providerOptions(c), maxRetries,
  });
  return { object: r.object, finishReason: r.finishReason, usage: r.usage, heliconeId: r.response?.headers?.["helicone-id"] ?? null };
}

async function stream(c, tag) {
  const r = streamText({ model: model(c), prompt: `Weather in Paris? ${tag}`, providerOptions: providerOptions(c), maxRetries });
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
const sdk = { ai: version("ai"), openai: version("@ai-sdk/openai"), anthropic: version("@ai-sdk/anthropic"), node: process.version };

async function runCase(c) {
  const out = { id: c.id, sdk };
  const state = { warnings: [] };
  let timer;
  try {
    const task = { loop, object, stream }[c.task];
    if (!task) throw new Error(`unknown task ${c.task}`);
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`case timed out after ${caseTimeoutMs} ms`)), caseTimeoutMs);
    });
    out.result = await Promise.race([current.run(state, () => task(c, `[case:${c.id}]`)), timeout]);
    out.ok = true;
  } catch (error) {
    out.ok = false;
    out.error = error.streamed ?? errorInfo(error);
  } finally {
    clearTimeout(timer);
  }
  out.warnings = [...new Set(state.warnings)];
  console.log(JSON.stringify(out)); // one line per case, as it finishes
}

// A small pool: `parallel` cases in flight; the cases of one (client, model) never depend on each other.
let next = 0;
await Promise.all(Array.from({ length: Math.min(parallel, cases.length) }, async () => {
  while (next < cases.length) await runCase(cases[next++]);
}));
