// chat_page.cpp — the built-in chat page served at GET /.
//
// One self-contained document (no external scripts, styles or fonts, so it
// works offline and under the strict CSP routes.cpp sends). It keeps the
// conversation in the page, POSTs it to /v1/chat/completions with
// "stream": true and renders the SSE deltas as they arrive. The API key, if
// the server needs one, is kept in localStorage.
// Test hooks: #input, #send, #log (.msg.user / .msg.assistant),
// body[data-state] = idle | streaming | error.
#include "server/server.h"

namespace f8srv {

const char* chat_page_html() {
  return R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>f8 chat</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; display: flex; flex-direction: column;
         height: 100vh; background: #f6f6f4; color: #222; }
  header { padding: 8px 14px; background: #233; color: #eee; display: flex; gap: 12px; align-items: center;
           flex-wrap: wrap; }
  header b { font-size: 17px; }
  header label { font-size: 13px; }
  header input { width: 70px; }
  #key { width: 160px; }
  #log { flex: 1; overflow-y: auto; padding: 14px; }
  .msg { max-width: 780px; margin: 0 auto 10px; padding: 8px 12px; border-radius: 8px; white-space: pre-wrap;
         word-wrap: break-word; }
  .user { background: #dde8f3; }
  .assistant { background: #fff; border: 1px solid #ddd; }
  .error { background: #fbe3e3; color: #900; }
  .stats { max-width: 780px; margin: -6px auto 10px; font-size: 12px; color: #777; }
  form { display: flex; gap: 8px; padding: 10px 14px; background: #e9e9e6; }
  textarea { flex: 1; resize: vertical; min-height: 44px; font: inherit; padding: 6px; }
  button { padding: 0 18px; font: inherit; }
</style>
</head>
<body data-state="idle">
<header>
  <b>f8</b><span id="model">…</span>
  <label>temperature <input id="temp" type="number" min="0" max="2" step="0.1" value="0.7"></label>
  <label>max tokens <input id="maxtok" type="number" min="1" step="1" value="512"></label>
  <label>system <input id="system" type="text" style="width:180px" placeholder="(none)"></label>
  <label>API key <input id="key" type="password" autocomplete="off"></label>
  <button id="clear" type="button">new chat</button>
</header>
<div id="log"></div>
<form id="form">
  <textarea id="input" placeholder="Type a message; Enter sends, Shift+Enter is a new line"></textarea>
  <button id="send" type="submit">Send</button>
</form>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const log = $("log");
let history = [];
let busy = false;

$("key").value = localStorage.getItem("f8key") || "";
$("key").addEventListener("change", () => localStorage.setItem("f8key", $("key").value));

function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("key").value) h["Authorization"] = "Bearer " + $("key").value;
  return h;
}

function add(cls, text) {
  const d = document.createElement("div");
  d.className = "msg " + cls;
  d.textContent = text;
  log.appendChild(d);
  log.scrollTop = log.scrollHeight;
  return d;
}

fetch("/v1/models", { headers: headers() }).then((r) => r.json()).then((j) => {
  if (j.data && j.data[0]) $("model").textContent = j.data[0].id;
}).catch(() => {});

async function send(text) {
  busy = true;
  document.body.dataset.state = "streaming";
  $("send").disabled = true;
  history.push({ role: "user", content: text });
  add("user", text);
  const out = add("assistant", "");
  const msgs = [];
  if ($("system").value) msgs.push({ role: "system", content: $("system").value });
  const body = {
    messages: msgs.concat(history), stream: true,
    stream_options: { include_usage: true },
    temperature: Number($("temp").value), max_tokens: Number($("maxtok").value),
  };
  const t0 = performance.now();
  let first = 0, usage = null, reply = "";
  try {
    const r = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!r.ok) {
      let m = r.status + " " + r.statusText;
      try { m = (await r.json()).error.message; } catch (e) {}
      throw new Error(m);
    }
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of ev.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const j = JSON.parse(data);
          if (j.error) throw new Error(j.error.message);
          if (j.usage) usage = j.usage;
          const c = j.choices && j.choices[0];
          if (c && c.delta && c.delta.content) {
            if (!first) first = performance.now();
            reply += c.delta.content;
            out.textContent = reply;
            log.scrollTop = log.scrollHeight;
          }
        }
      }
    }
    history.push({ role: "assistant", content: reply });
    const s = document.createElement("div");
    s.className = "stats";
    const secs = (performance.now() - t0) / 1000;
    s.textContent = (usage ? usage.completion_tokens + " tokens, " +
      (usage.completion_tokens / secs).toFixed(1) + " tok/s, " : "") +
      "first token " + (first ? ((first - t0) / 1000).toFixed(2) + " s" : "-");
    log.appendChild(s);
    document.body.dataset.state = "idle";
  } catch (e) {
    out.className = "msg error";
    out.textContent = "error: " + e.message;
    history.pop();
    document.body.dataset.state = "error";
  } finally {
    busy = false;
    $("send").disabled = false;
  }
}

$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text || busy) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("form").requestSubmit(); }
});
$("clear").addEventListener("click", () => { history = []; log.textContent = ""; });
</script>
</body>
</html>
)HTML";
}

}  // namespace f8srv
