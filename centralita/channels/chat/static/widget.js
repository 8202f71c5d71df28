// The centralita chat widget. Served wrapped as (function (CONFIG) { ... })({...}) by
// /chat/{slug}/widget.js. It builds its DOM with createElement and textContent only (visitor and
// agent text is never parsed as HTML), loads its stylesheet from the app (no inline style, so it
// runs under a strict CSP) and talks only to the origin it was loaded from.
"use strict";
var script = document.currentScript;
var origin = new URL(script ? script.src : location.href);
var pageLang = (document.documentElement.lang || navigator.language || "").slice(0, 2);
var locale = CONFIG.texts[pageLang] ? pageLang : CONFIG.locale in CONFIG.texts ? CONFIG.locale : "es";
var T = CONFIG.texts[locale];
var STORE = "centralita-chat:" + CONFIG.slug;
var socketUrl = (origin.protocol === "https:" ? "wss://" : "ws://") + origin.host +
  "/ws/chat/" + encodeURIComponent(CONFIG.slug);

function fill(text, values) {
  return text.replace(/%\((\w+)\)s/g, function (_, key) { return String(values[key]); });
}
function el(tag, cls, text) {
  var node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}
function load() {
  try { return JSON.parse(localStorage.getItem(STORE) || "{}"); } catch (e) { return {}; }
}
function save(state) {
  try { localStorage.setItem(STORE, JSON.stringify(state)); } catch (e) { /* private mode */ }
}

var style = document.createElement("link");
style.rel = "stylesheet";
style.href = origin.origin + "/chat/" + encodeURIComponent(CONFIG.slug) + "/widget.css";
document.head.appendChild(style);

var root = el("div", "cz-root");
root.setAttribute("data-centralita-chat", CONFIG.slug);
root.lang = locale;
var launcher = el("button", "cz-launcher", T.open);
launcher.type = "button";
var panel = el("section", "cz-panel cz-hidden");
panel.setAttribute("aria-label", CONFIG.name);
var header = el("header", "cz-header");
header.appendChild(el("span", "cz-title", CONFIG.name));
var closer = el("button", "cz-close", "×");
closer.type = "button";
closer.setAttribute("aria-label", T.close);
header.appendChild(closer);
var status = el("p", "cz-status");
status.setAttribute("role", "status");
var log = el("ol", "cz-log");
log.setAttribute("aria-live", "polite");
var typing = el("p", "cz-typing cz-hidden", T.typing);

function field(label, name, kind) {
  var wrap = el("label", "cz-field");
  wrap.appendChild(el("span", "cz-label", label));
  var input = el(kind === "textarea" ? "textarea" : "input");
  input.name = name;
  if (kind !== "textarea") input.type = kind;
  wrap.appendChild(input);
  return wrap;
}
var form = el("form", "cz-form cz-hidden");
var notice = el("p", "cz-notice cz-hidden", T.closed);
form.appendChild(notice);
form.appendChild(field(T.name, "name", "text"));
form.appendChild(field(T.email, "email", "email"));
form.appendChild(field(T.topic, "topic", "text"));
form.appendChild(field(T.first, "text", "textarea"));
form.elements.name.required = true;
form.elements.text.required = true;
var submit = el("button", "cz-submit", T.start);
submit.type = "submit";
form.appendChild(submit);

var composer = el("form", "cz-composer cz-hidden");
var input = el("textarea", "cz-input");
input.name = "message";
input.setAttribute("aria-label", T.type);
input.placeholder = T.type;
var send = el("button", "cz-send", T.send);
send.type = "submit";
var copy = el("button", "cz-copy", T.transcript);
copy.type = "button";
composer.appendChild(input);
composer.appendChild(send);
composer.appendChild(copy);

panel.appendChild(header);
panel.appendChild(status);
panel.appendChild(log);
panel.appendChild(typing);
panel.appendChild(form);
panel.appendChild(composer);
root.appendChild(launcher);
root.appendChild(panel);
document.body.appendChild(root);

var state = load();
var socket = null;
var leaving = false;
var ended = false;
var seen = {};
var unacked = [];
var counter = 0;
var retryDelay = 500;
var typingTimer = null;
var typedAt = 0;

function show(node, visible) { node.classList.toggle("cz-hidden", !visible); }
function say(text) { status.textContent = text || ""; }
function clientId() { counter += 1; return "m" + Date.now().toString(36) + counter; }

function addMessage(message) {
  if (seen[message.id]) return;
  seen[message.id] = true;
  var item = el("li", "cz-msg cz-" + message.author);
  item.setAttribute("data-id", message.id);
  item.textContent = message.text;
  if (message.author === "visitor") {
    var pending = log.querySelector(".cz-pending");
    while (pending && pending.textContent !== message.text) {
      pending = pending.nextElementSibling;
      if (pending && !pending.classList.contains("cz-pending")) pending = null;
    }
    if (pending) {
      pending.classList.remove("cz-pending");
      pending.setAttribute("data-id", message.id);
      return;
    }
  }
  log.appendChild(item);
  log.scrollTop = log.scrollHeight;
}
function transmit(payload) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(payload));
}
function waitingText(position, seconds) {
  var text = T.waiting;
  if (position) text = fill(T.position, { position: position });
  if (seconds) text += " " + fill(T.wait, { minutes: Math.max(1, Math.round(seconds / 60)) });
  return text;
}
function finish() {
  ended = true;
  say(T.ended);
  show(composer, false);
  // The token is kept: a later chat is the same visitor's.
  state.active = false;
  delete state.last;
  save(state);
}

function onMessage(event) {
  var data = JSON.parse(event.data);
  if (data.event_id) { state.last = data.event_id; save(state); }
  retryDelay = 500;
  switch (data.type) {
    case "hello":
      leaving = data.leave_message;
      show(notice, leaving);
      submit.textContent = leaving ? T.leave : T.start;
      form.elements.email.required = leaving;
      show(form, true);
      say(data.open && data.estimated_wait_seconds ? waitingText(0, data.estimated_wait_seconds) : "");
      break;
    case "started":
      ended = false;
      state.token = data.token;
      state.active = true;
      save(state);
      break;
    case "snapshot":
      show(form, false);
      show(composer, data.open);
      data.messages.forEach(addMessage);
      if (!data.open) { finish(); break; }
      say(data.agent ? fill(T.joined, { name: data.agent }) :
        waitingText(data.position, data.estimated_wait_seconds));
      unacked.forEach(transmit);
      break;
    case "message":
      addMessage(data.message);
      if (data.message.author === "agent") show(typing, false);
      break;
    case "ack":
      unacked = unacked.filter(function (m) { return m.id !== data.id; });
      break;
    case "position":
      say(waitingText(data.position, data.estimated_wait_seconds));
      break;
    case "waiting":
      say(T.waiting);
      break;
    case "agent":
      say(fill(T.joined, { name: data.name || "" }));
      break;
    case "typing":
      show(typing, true);
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { show(typing, false); }, 4000);
      break;
    case "ended":
      finish();
      break;
    case "message_left":
      show(form, false);
      say(fill(T.left, { ticket: data.ticket }));
      break;
    case "transcript_queued":
      say(T.transcript_queued);
      break;
    case "error":
      unacked = unacked.filter(function (m) { return m.id !== data.id; });
      say(data.code === "too-long" ? T.too_long : data.code === "rate-limited" ? T.rate_limited :
        T.failed);
      break;
  }
}

function connect() {
  var url = socketUrl;
  if (state.token) {
    url += "?token=" + encodeURIComponent(state.token);
    if (state.last) url += "&last_event_id=" + encodeURIComponent(state.last);
  }
  socket = new WebSocket(url);
  socket.addEventListener("message", onMessage);
  socket.addEventListener("close", function (event) {
    socket = null;
    // Too far behind to replay: the fresh snapshot of the next connection has everything.
    if (event.reason === "resync") delete state.last;
    if (event.code === 4401 || event.code === 4404) {  // token refused: start afresh
      delete state.token;
      delete state.last;
      save(state);
    }
    if (ended || event.code === 4403 || event.code === 4404) return;
    say(T.reconnecting);
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  });
}

launcher.addEventListener("click", function () {
  show(panel, true);
  show(launcher, false);
  if (!socket) connect();
});
closer.addEventListener("click", function () {
  show(panel, false);
  show(launcher, true);
});
form.addEventListener("submit", function (event) {
  event.preventDefault();
  var values = {
    type: leaving ? "leave_message" : "start",
    name: form.elements.name.value.trim(),
    email: form.elements.email.value.trim() || null,
    topic: form.elements.topic.value.trim() || null,
    text: form.elements.text.value.trim(),
  };
  if (!leaving) { values.id = clientId(); values.language = locale; }
  if (!values.name || !values.text) return;
  transmit(values);
});
composer.addEventListener("submit", function (event) {
  event.preventDefault();
  var text = input.value.trim();
  if (!text) return;
  var message = { type: "message", id: clientId(), text: text };
  var item = el("li", "cz-msg cz-visitor cz-pending", text);
  log.appendChild(item);
  log.scrollTop = log.scrollHeight;
  unacked.push(message);
  transmit(message);
  input.value = "";
});
input.addEventListener("input", function () {
  var now = Date.now();
  if (now - typedAt > 1500) { typedAt = now; transmit({ type: "typing" }); }
});
copy.addEventListener("click", function () { transmit({ type: "transcript" }); });

if (state.token && state.active) {
  show(panel, true);
  show(launcher, false);
  connect();
}
