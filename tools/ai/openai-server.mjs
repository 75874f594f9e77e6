// Minimal OpenAI-compatible chat-completions server around node-llama-cpp
// (prebuilt llama.cpp binaries from npm). Test helper, not for production.
//
//   node openai-server.mjs --model FILE.gguf [--host 127.0.0.1] [--port 0]
//
// Prints exactly one line to stdout once it answers HTTP:
//   OPENAI_BASE=http://HOST:PORT/v1
// Everything else goes to stderr.
//
// Routes: GET /health, GET /v1/models, POST /v1/chat/completions
// (stream true -> SSE "data: {chat.completion.chunk}" lines + "data: [DONE]").
// Any "model" name and any Authorization header are accepted.
import http from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, LlamaLogLevel } from "node-llama-cpp";

const { values: args } = parseArgs({
    options: {
        model: { type: "string" },
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "0" },
        "model-id": { type: "string", default: "smollm2-135m-instruct" },
        "context-size": { type: "string", default: "2048" },
        threads: { type: "string", default: "1" }, // 1: robust on a busy 2-core box
    },
});
if (!args.model) {
    console.error("usage: openai-server.mjs --model FILE.gguf [--host H] [--port P]");
    process.exit(2);
}
const log = (...a) => console.error("[openai-server]", ...a);
const MODEL_ID = args["model-id"];

const threads = Number(args.threads);
const llama = await getLlama({
    gpu: false,
    maxThreads: threads,
    build: "never",
    usePrebuiltBinaries: true,
    skipDownload: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.warn,
});
const model = await llama.loadModel({ modelPath: path.resolve(args.model) });
const context = await model.createContext({
    contextSize: Number(args["context-size"]),
    sequences: 1,
    threads,
});
const chat = new LlamaChat({ contextSequence: context.getSequence() });
log(`model loaded: ${args.model}, context ${context.contextSize} tokens`);

// One sequence -> one generation at a time.
let queue = Promise.resolve();
const serialize = (fn) => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
};

function contentText(c) {
    if (typeof c === "string") return c;
    if (Array.isArray(c)) return c.map((p) => (typeof p === "string" ? p : p?.text ?? "")).join("");
    return c == null ? "" : String(c);
}

function toHistory(messages) {
    const h = [];
    for (const m of messages) {
        const text = contentText(m.content);
        if (m.role === "system" || m.role === "developer") h.push({ type: "system", text });
        else if (m.role === "assistant") h.push({ type: "model", response: [text] });
        else h.push({ type: "user", text }); // user, tool, anything else
    }
    if (h.length === 0 || h[h.length - 1].type !== "model") h.push({ type: "model", response: [] });
    return h;
}

function sendJson(res, status, obj) {
    const body = JSON.stringify(obj);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
}

async function readJson(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

let nextId = 1;
async function chatCompletions(req, res) {
    let body;
    try {
        body = await readJson(req);
    } catch (e) {
        return sendJson(res, 400, { error: { message: "invalid JSON body", type: "invalid_request_error" } });
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0)
        return sendJson(res, 400, { error: { message: "'messages' must be a non-empty array", type: "invalid_request_error" } });

    const id = `chatcmpl-${Date.now()}-${nextId++}`;
    const created = Math.floor(Date.now() / 1000);
    const modelName = typeof body.model === "string" && body.model ? body.model : MODEL_ID;
    const stream = body.stream === true;
    const abort = new AbortController();
    res.on("close", () => { if (!res.writableFinished) abort.abort(); });

    const opts = {
        maxTokens: Number.isInteger(body.max_tokens) ? body.max_tokens
            : Number.isInteger(body.max_completion_tokens) ? body.max_completion_tokens : 256,
        temperature: typeof body.temperature === "number" ? body.temperature : 0,
        ...(typeof body.top_p === "number" ? { topP: body.top_p } : {}),
        ...(Number.isInteger(body.seed) ? { seed: body.seed } : {}),
        signal: abort.signal,
        stopOnAbortSignal: true,
    };

    const chunk = (delta, finish) => ({
        id, object: "chat.completion.chunk", created, model: modelName,
        choices: [{ index: 0, delta, finish_reason: finish }],
    });

    if (stream) {
        res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
        res.flushHeaders();
        const send = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
        send(chunk({ role: "assistant", content: "" }, null));
        try {
            const r = await serialize(() => chat.generateResponse(toHistory(body.messages), {
                ...opts,
                onTextChunk: (text) => { if (text) send(chunk({ content: text }, null)); },
            }));
            send(chunk({}, r.metadata.stopReason === "maxTokens" ? "length" : "stop"));
            res.write("data: [DONE]\n\n");
        } catch (e) {
            log("generation failed:", e);
            res.write(`data: ${JSON.stringify({ error: { message: String(e?.message ?? e) } })}\n\n`);
        }
        return res.end();
    }

    try {
        const r = await serialize(() => chat.generateResponse(toHistory(body.messages), opts));
        sendJson(res, 200, {
            id, object: "chat.completion", created, model: modelName,
            choices: [{
                index: 0,
                message: { role: "assistant", content: r.response },
                finish_reason: r.metadata.stopReason === "maxTokens" ? "length" : "stop",
            }],
        });
    } catch (e) {
        log("generation failed:", e);
        sendJson(res, 500, { error: { message: String(e?.message ?? e), type: "server_error" } });
    }
}

const server = http.createServer((req, res) => {
    const url = (req.url || "/").split("?")[0].replace(/\/+$/, "") || "/";
    if (req.method === "GET" && (url === "/health" || url === "/v1/health")) return sendJson(res, 200, { status: "ok" });
    if (req.method === "GET" && url === "/v1/models")
        return sendJson(res, 200, { object: "list", data: [{ id: MODEL_ID, object: "model", created: 0, owned_by: "local" }] });
    if (req.method === "POST" && (url === "/v1/chat/completions" || url === "/chat/completions"))
        return chatCompletions(req, res).catch((e) => {
            log("request failed:", e);
            if (!res.headersSent) sendJson(res, 500, { error: { message: String(e) } });
            else res.end();
        });
    sendJson(res, 404, { error: { message: `no route ${req.method} ${url}`, type: "invalid_request_error" } });
});

server.on("error", (e) => { log(`cannot listen on ${args.host}:${args.port}: ${e.message}`); process.exit(1); });
server.listen(Number(args.port), args.host, async () => {
    const { port } = server.address();
    const hostForUrl = args.host.includes(":") ? `[${args.host}]` : args.host;
    const base = `http://${hostForUrl}:${port}`;
    const r = await fetch(`${base}/health`); // answer once before announcing
    if (!r.ok) { log("self-check failed", r.status); process.exit(1); }
    log(`listening on ${base}`);
    process.stdout.write(`OPENAI_BASE=${base}/v1\n`);
});

for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
