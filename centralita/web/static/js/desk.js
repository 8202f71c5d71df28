// The agent desktop: presence, offers, one tab per conversation, the customer beside it.
// Customer text is only ever put in the page with textContent.

import { api, clock, format, fragment, tenantPath, texts } from "./api.js";
import { live } from "./live.js";

const T = texts("desk-texts");
const tenantNames = texts("desk-tenants");
const $ = (id) => document.getElementById(id);
const work = new Map(); // interaction id -> entry
let selected = null;
let presence = document.querySelector(".desk").dataset.presence;
let soundOn = false;
let choosing = false;
let audio = null;
const targets = new Map(); // tenant slug -> Promise<{queues, agents}>
const macros = new Map(); // tenant slug -> Promise<[{template, index, name}]>

function showError(error) {
  const box = $("desk-error");
  const code = String(error.problem?.type || "").split("/").pop().replaceAll("-", "_");
  const detail = (code && T[`problem_${code}`]) || error.message || String(error);
  box.textContent = format(T.error, { detail });
  box.hidden = false;
  setTimeout(() => {
    box.hidden = true;
  }, 8000);
}

function text(node, value) {
  node.textContent = value ?? "";
  return node;
}

// --- presence ---------------------------------------------------------------------------

function showPresence(value, reason) {
  presence = value;
  const badge = $("presence-badge");
  badge.className = `presence-badge presence-${value}`;
  text($("presence-label"), T[value] || value);
  // A choice the agent is making is not overwritten by a snapshot arriving meanwhile.
  if (choosing) return;
  $("presence").value = value === "wrap_up" ? "offline" : value;
  $("presence-reason").disabled = value !== "away";
  if (reason) $("presence-reason").value = reason;
}

$("presence").addEventListener("change", () => {
  choosing = true;
  $("presence-reason").disabled = $("presence").value !== "away";
});

$("presence-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("presence").value;
  const body = { presence: value };
  if (value === "away") body.reason = $("presence-reason").value;
  try {
    const saved = await api("PUT", "/api/v1/agents/me/presence", body);
    choosing = false;
    showPresence(saved.presence, saved.presence_reason);
  } catch (error) {
    showError(error);
  }
});

$("sound").addEventListener("change", () => {
  soundOn = $("sound").checked;
  if (soundOn && !audio) audio = new AudioContext();
});

function chime() {
  if (!soundOn || !audio) return;
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.value = 880;
  gain.gain.setValueAtTime(0.2, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.6);
}

// --- loading what belongs to one piece of work ------------------------------------------

// An entry is one spell of work in one place (offer, or tab): when the work leaves, or comes
// back as a new offer, its entry is dropped and a new one made. An answer that arrives for a
// dropped entry is stale and must draw nothing.
function current(entry) {
  return work.get(entry.item.interaction_id) === entry;
}

async function loadDetail(entry) {
  const path = tenantPath(entry.item.tenant_slug, `/interactions/${entry.item.interaction_id}`);
  const detail = await api("GET", path);
  if (!current(entry)) return;
  // A message the socket delivered while this request was in flight is newer than its answer.
  const fetched = new Set((detail.messages || []).map((message) => message.id));
  const delivered = (entry.detail?.messages || []).filter((message) => !fetched.has(message.id));
  detail.messages = [...(detail.messages || []), ...delivered];
  entry.detail = detail;
  const callbackId = detail.self_service_context?.callback_id;
  if (entry.item.channel === "callback" && callbackId && !entry.callback) {
    const callback = await api("GET", tenantPath(entry.item.tenant_slug, `/callbacks/${callbackId}`));
    if (!current(entry)) return;
    entry.callback = callback;
  }
  if (!entry.customer) {
    const customerPath = tenantPath(entry.item.tenant_slug, `/customers/${entry.item.customer_id}`);
    const customer = await api("GET", customerPath);
    if (!current(entry)) return;
    entry.customer = customer;
  }
  render(entry);
}

// In the background: a failure is worth telling only while the work is still here.
function reload(entry) {
  loadDetail(entry).catch((error) => {
    if (current(entry)) showError(error);
  });
}

function targetsOf(slug) {
  if (!targets.has(slug)) {
    targets.set(
      slug,
      Promise.all([api("GET", tenantPath(slug, "/queues")), api("GET", tenantPath(slug, "/agents"))]),
    );
  }
  return targets.get(slug);
}

function macrosOf(slug) {
  if (!macros.has(slug)) {
    const found = api("GET", tenantPath(slug, "/ticket-templates")).then((templates) =>
      templates.flatMap((template) =>
        (template.macros || []).map((macro, index) => ({
          template: template.id,
          index,
          name: `${template.name} · ${macro.name}`,
        })),
      ),
    );
    // A failed look-up is asked again next time rather than remembered.
    found.catch(() => macros.delete(slug));
    macros.set(slug, found);
  }
  return macros.get(slug);
}

// A phone call the provider carries (its CallSid is the interaction's external_ref).
function isCall(entry) {
  return entry.item.channel === "voice" && Boolean(entry.detail?.external_ref);
}

function customerName(entry) {
  const c = entry.customer;
  if (!c) return "…";
  return [c.title, c.preferred_name || c.display_name].filter(Boolean).join(" ");
}

// --- offers -----------------------------------------------------------------------------

function renderOffer(entry) {
  if (!entry.offer) {
    entry.offer = $("offer-template").content.firstElementChild.cloneNode(true);
    const id = `offer-${entry.item.interaction_id}`;
    entry.offer.querySelector(".offer-customer").id = id;
    entry.offer.setAttribute("aria-labelledby", id);
    entry.offer.querySelector(".offer-accept").addEventListener("click", () => decide(entry, "accept"));
    entry.offer.querySelector(".offer-reject").addEventListener("click", () => decide(entry, "reject"));
    $("offers").append(entry.offer);
    chime();
  }
  const o = entry.offer;
  const channel = o.querySelector(".channel-badge");
  channel.className = `channel-badge channel-${entry.item.channel}`;
  text(channel, T[entry.item.channel] || entry.item.channel);
  text(o.querySelector(".offer-tenant"), tenantNames[entry.item.tenant_slug] || entry.item.tenant_slug);
  text(o.querySelector(".offer-queue"), entry.item.queue || "—");
  text(o.querySelector(".offer-customer"), customerName(entry));
  text(o.querySelector(".offer-subject"), entry.item.subject || T.no_subject);
  text(o.querySelector(".offer-topic"), entry.detail?.topic || "");
}

async function decide(entry, verb) {
  const path = tenantPath(entry.item.tenant_slug, `/interactions/${entry.item.interaction_id}/${verb}`);
  try {
    await api("POST", path);
    await refreshWork();
    if (verb === "accept") select(entry.item.interaction_id);
  } catch (error) {
    showError(error);
    await refreshWork();
  }
}

// --- the workspace tabs -----------------------------------------------------------------

function ensureTab(entry) {
  if (entry.panel) return;
  const id = entry.item.interaction_id;
  const tab = document.createElement("button");
  tab.type = "button";
  tab.className = "work-tab";
  tab.id = `tab-${id}`;
  tab.setAttribute("role", "tab");
  tab.setAttribute("aria-controls", `panel-${id}`);
  tab.addEventListener("click", () => select(id));
  tab.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const ids = [...work.values()].filter((e) => e.panel).map((e) => e.item.interaction_id);
    const next = ids[(ids.indexOf(id) + (event.key === "ArrowRight" ? 1 : ids.length - 1)) % ids.length];
    select(next);
    $(`tab-${next}`).focus();
  });
  entry.tab = tab;
  $("work-tabs").append(tab);

  const panel = $("work-template").content.firstElementChild.cloneNode(true);
  panel.id = `panel-${id}`;
  panel.setAttribute("aria-labelledby", tab.id);
  panel.hidden = true;
  const reply = panel.querySelector(".reply-form");
  const area = reply.querySelector("textarea");
  area.id = `reply-${id}`;
  reply.querySelector(".field-label").htmlFor = area.id;
  const pick = reply.querySelector(".macro-pick");
  pick.id = `macro-${id}`;
  reply.querySelector(".macro-row .field-label").htmlFor = pick.id;
  reply.querySelector(".macro-insert").addEventListener("click", () => insertMacro(entry));
  wireFiles(entry, reply);
  panel.querySelector(".call-hold").addEventListener("click", () => callAction(entry, "hold"));
  panel.querySelector(".call-resume").addEventListener("click", () => callAction(entry, "resume"));
  panel.querySelector(".call-hang-up").addEventListener("click", () => callAction(entry, "hang-up"));
  panel.querySelector(".callback-dial").addEventListener("click", () => dialCallback(entry));
  for (const button of panel.querySelectorAll(".callback-outcomes button")) {
    button.addEventListener("click", () => recordOutcome(entry, button.dataset.outcome));
  }
  reply.addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply(entry);
  });
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      sendReply(entry);
    }
  });
  panel.querySelector(".work-end").addEventListener("click", () => endConversation(entry));
  panel.querySelector(".transfer").addEventListener("toggle", () => fillTargets(entry));
  panel.querySelector(".transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    transfer(entry, event.target);
  });
  panel.querySelector(".ticket-form").addEventListener("submit", (event) => {
    event.preventDefault();
    createTicket(entry, event.target);
  });
  panel.querySelector(".wrap-up-form").addEventListener("submit", (event) => {
    event.preventDefault();
    wrapUp(entry, event.target);
  });
  entry.panel = panel;
  $("work-panels").append(panel);
}

function render(entry) {
  const { item } = entry;
  const offered = item.state === "offered";
  if (offered) {
    renderOffer(entry);
    return;
  }
  entry.offer?.remove();
  entry.offer = null;
  ensureTab(entry);
  const p = entry.panel;
  text(entry.tab, `${T[item.channel] || item.channel} · ${customerName(entry)}`);
  entry.tab.classList.toggle("work-tab-wrap", item.state === "wrap_up");
  const channel = p.querySelector(".channel-badge");
  channel.className = `channel-badge channel-${item.channel}`;
  text(channel, T[item.channel] || item.channel);
  text(p.querySelector(".work-tenant"), tenantNames[item.tenant_slug] || item.tenant_slug);
  text(p.querySelector(".work-queue"), item.queue || "—");
  text(p.querySelector(".work-subject"), item.subject || T.no_subject);
  const wrapping = item.state === "wrap_up";
  p.querySelector(".wrap-up-form").hidden = !wrapping;
  p.querySelector(".reply-form").hidden = wrapping;
  const onCall = isCall(entry);
  // A call ends at the provider (hang up), not only on the desk.
  p.querySelector(".work-end").hidden = wrapping || onCall;
  p.querySelector(".transfer").hidden = wrapping;
  renderCall(entry, onCall && !wrapping);
  renderCallback(entry);
  text(p.querySelector(".reply-form > .field-label"), item.channel === "email" ? T.reply_email : T.reply);
  p.querySelector(".reply-files").hidden = item.channel !== "email";
  if (entry.detail) {
    renderSelfService(p, entry.detail.self_service_context || {});
    renderThread(p.querySelector(".thread"), entry.detail.messages || []);
    renderMacros(entry);
  }
}

function renderCall(entry, live) {
  const controls = entry.panel.querySelector(".call-controls");
  controls.hidden = !live;
  if (!live) return;
  controls.querySelector(".call-hold").hidden = Boolean(entry.onHold);
  controls.querySelector(".call-resume").hidden = !entry.onHold;
  text(controls.querySelector(".call-state"), entry.onHold ? T.call_held : T.call_live);
}

async function renderMacros(entry) {
  const form = entry.panel.querySelector(".reply-form");
  const filed = Boolean(entry.detail.ticket_id);
  form.querySelector(".macro-hint").hidden = filed;
  const row = form.querySelector(".macro-row");
  if (!filed) {
    row.hidden = true;
    return;
  }
  const pick = row.querySelector(".macro-pick");
  if (pick.dataset.filled) return;
  pick.dataset.filled = "1";
  try {
    const found = await macrosOf(entry.item.tenant_slug);
    for (const macro of found) {
      const option = text(document.createElement("option"), macro.name);
      option.value = `${macro.template}:${macro.index}`;
      pick.append(option);
    }
    row.hidden = found.length === 0;
    form.querySelector(".macro-hint").hidden = true;
  } catch (error) {
    delete pick.dataset.filled;
    showError(error);
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

// What self-service collected, as labelled rows: groups (the chat's pre-chat form) are flattened,
// empty values and internal ids are left out, and known fields are named in the agent's language.
function selfServiceRows(context, rows = []) {
  for (const [key, value] of Object.entries(context)) {
    if (value === null || value === "" || (typeof value === "string" && UUID.test(value))) continue;
    if (typeof value === "object" && !Array.isArray(value)) selfServiceRows(value, rows);
    else rows.push([T[`field_${key}`] || key.replaceAll("_", " "), shownValue(key, value)]);
  }
  return rows;
}

function shownValue(key, value) {
  if (key === "confidence" && typeof value === "number") return `${Math.round(value * 100)} %`;
  if (typeof value === "string" && ISO_TIME.test(value)) {
    return new Date(value).toLocaleString(document.documentElement.lang);
  }
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function renderSelfService(panel, context) {
  const list = panel.querySelector(".self-service");
  const rows = selfServiceRows(context);
  list.hidden = rows.length === 0;
  list.querySelectorAll("div").forEach((node) => node.remove());
  for (const [label, value] of rows) {
    const row = document.createElement("div");
    row.append(text(document.createElement("dt"), label), text(document.createElement("dd"), value));
    list.append(row);
  }
}

function renderThread(list, messages) {
  const nodes = messages.map((message) => {
    const li = document.createElement("li");
    li.className = `message message-${message.author_kind}`;
    const who = document.createElement("p");
    who.className = "message-who";
    const when = new Date(message.created_at).toLocaleTimeString(document.documentElement.lang, {
      hour: "2-digit",
      minute: "2-digit",
    });
    text(who, `${T[message.author_kind] || message.author_kind} · ${when}`);
    const body = document.createElement("p");
    body.className = "message-text";
    text(body, message.text);
    li.append(who, body);
    for (const file of message.attachments || []) {
      const link = document.createElement("a");
      link.className = "attachment";
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      // The provider's own link, or this tenant's download of a file stored with the email.
      if (/^https?:/i.test(file.url) || /^\/api\/v1\/tenants\//.test(file.url)) link.href = file.url;
      text(link, `${file.name} (${size(file.size)})`);
      li.append(link);
    }
    return li;
  });
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  list.replaceChildren(...nodes);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

async function select(id) {
  const entry = work.get(id);
  if (!entry || !entry.panel) return;
  selected = id;
  for (const other of work.values()) {
    if (!other.panel) continue;
    const on = other === entry;
    other.panel.hidden = !on;
    other.tab.setAttribute("aria-selected", String(on));
    other.tab.tabIndex = on ? 0 : -1;
  }
  const side = $("customer-side");
  try {
    const query = new URLSearchParams({ tenant: entry.item.tenant_slug, interaction: id });
    const nodes = await fragment(`/agent/panel?${query}`);
    if (selected !== id || !current(entry)) return;
    side.replaceChildren(...nodes);
    side.querySelectorAll(".ticket-status-form").forEach((form) =>
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        updateTicket(entry, form);
      }),
    );
    side.querySelectorAll(".ticket-attach").forEach((button) =>
      button.addEventListener("click", () => fileUnder(entry, button.dataset.ticket)),
    );
    side.querySelectorAll(".ticket-relate-form").forEach((form) => wireRelate(entry, form));
  } catch (error) {
    showError(error);
  }
}

// --- actions on the conversation --------------------------------------------------------

function status(entry, message) {
  text(entry.panel.querySelector(".work-status"), message);
}

async function sendReply(entry) {
  const form = entry.panel.querySelector(".reply-form");
  const area = form.querySelector("textarea");
  const value = area.value.trim();
  const files = entry.files;
  if (!value && !files.length) return;
  const kind = form.querySelector('[name="note"]').checked ? "note" : "agent";
  if (files.length && kind === "note") {
    filesError(entry, T.files_not_in_notes);
    return;
  }
  const { tenant_slug: slug, interaction_id: id } = entry.item;
  try {
    if (files.length) {
      const body = new FormData();
      body.append("text", value);
      for (const file of files) body.append("files", file, file.name);
      await api("POST", tenantPath(slug, `/email/interactions/${id}/replies`), body);
      entry.files = [];
      renderFiles(entry);
    } else {
      await api("POST", tenantPath(slug, `/interactions/${id}/messages`), { author_kind: kind, text: value });
    }
    area.value = "";
    await loadDetail(entry);
  } catch (error) {
    showError(error);
  }
}

// --- files attached to an email reply ---------------------------------------------------

function size(bytes) {
  const lang = document.documentElement.lang;
  const [unit, value] = bytes >= 1e6 ? ["megabyte", bytes / 1e6] : ["kilobyte", Math.max(bytes / 1e3, 0.1)];
  return new Intl.NumberFormat(lang, { style: "unit", unit, maximumFractionDigits: 1 }).format(value);
}

function filesError(entry, message) {
  const box = entry.panel.querySelector(".reply-files-error");
  text(box, message);
  box.hidden = !message;
}

// The same limits the server enforces, checked first so the agent hears at once, in words.
function addFiles(entry, chosen) {
  const area = entry.panel.querySelector(".reply-files");
  const limits = area.dataset;
  const refused = new Set(limits.refused.split(" "));
  const mb = (bytes) => Math.floor(Number(bytes) / 1e6);
  const files = [...entry.files];
  for (const file of chosen) {
    const extension = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
    let problem = null;
    if (refused.has(extension)) problem = format(T.file_refused, { name: file.name });
    else if (file.size === 0) problem = format(T.file_empty, { name: file.name });
    else if (file.size > Number(limits.maxFileBytes)) problem = format(T.file_too_large, { name: file.name, limit: mb(limits.maxFileBytes) });
    else if (files.length >= Number(limits.maxFiles)) problem = format(T.too_many_files, { limit: limits.maxFiles });
    else if (files.reduce((sum, f) => sum + f.size, file.size) > Number(limits.maxReplyBytes)) problem = format(T.files_too_large, { limit: mb(limits.maxReplyBytes) });
    if (problem) {
      filesError(entry, problem);
      renderFiles(entry);
      return;
    }
    files.push(file);
  }
  entry.files = files;
  filesError(entry, "");
  renderFiles(entry);
}

function renderFiles(entry) {
  const list = entry.panel.querySelector(".reply-file-list");
  list.replaceChildren(
    ...entry.files.map((file, index) => {
      const li = document.createElement("li");
      const remove = text(document.createElement("button"), T.remove);
      remove.type = "button";
      remove.className = "button button-small button-secondary";
      remove.setAttribute("aria-label", format(T.remove_file, { name: file.name }));
      remove.addEventListener("click", () => {
        entry.files = entry.files.filter((_, at) => at !== index);
        filesError(entry, "");
        renderFiles(entry);
        entry.panel.querySelector(".reply-file-input").focus();
      });
      li.append(text(document.createElement("span"), `${file.name} (${size(file.size)})`), remove);
      return li;
    }),
  );
}

function wireFiles(entry, reply) {
  entry.files = [];
  const area = reply.querySelector(".reply-files");
  const input = area.querySelector(".reply-file-input");
  input.id = `files-${entry.item.interaction_id}`;
  area.querySelector(".field-label").htmlFor = input.id;
  input.addEventListener("change", () => {
    addFiles(entry, [...input.files]);
    input.value = "";
  });
  reply.addEventListener("dragover", (event) => {
    if (area.hidden || !event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    area.classList.add("dropping");
  });
  reply.addEventListener("dragleave", () => area.classList.remove("dropping"));
  reply.addEventListener("drop", (event) => {
    if (area.hidden || !event.dataTransfer?.files.length) return;
    event.preventDefault();
    area.classList.remove("dropping");
    addFiles(entry, [...event.dataTransfer.files]);
  });
}

async function endConversation(entry) {
  const path = tenantPath(entry.item.tenant_slug, `/interactions/${entry.item.interaction_id}/end`);
  try {
    await api("POST", path);
    await refreshWork();
    entry.panel?.querySelector(".wrap-up-form select")?.focus();
  } catch (error) {
    showError(error);
  }
}

async function fillTargets(entry) {
  const form = entry.panel.querySelector(".transfer-form");
  if (form.dataset.filled) return;
  form.dataset.filled = "1";
  try {
    const [queues, agents] = await targetsOf(entry.item.tenant_slug);
    for (const queue of queues) {
      const option = text(document.createElement("option"), queue.name);
      option.value = queue.id;
      form.queue_id.append(option);
    }
    const me = document.querySelector(".desk").dataset.me;
    for (const agent of agents) {
      if (agent.user_id === me) continue;
      const option = text(document.createElement("option"), `${agent.display_name} (${T[agent.presence] || agent.presence})`);
      option.value = agent.user_id;
      form.agent_id.append(option);
    }
  } catch (error) {
    showError(error);
  }
}

async function transfer(entry, form) {
  // A live call is moved at the provider too: the caller waits in the queue for the next agent.
  const kind = isCall(entry) ? "calls" : "interactions";
  const body = {};
  if (form.queue_id.value) body.queue_id = form.queue_id.value;
  else if (form.agent_id.value) body.agent_id = form.agent_id.value;
  else {
    status(entry, T.pick_target);
    return;
  }
  if (form.note.value.trim()) body.note = form.note.value.trim();
  const path = tenantPath(entry.item.tenant_slug, `/${kind}/${entry.item.interaction_id}/transfer`);
  try {
    await api("POST", path, body);
    status(entry, T.transferred);
    await refreshWork();
  } catch (error) {
    showError(error);
  }
}

async function wrapUp(entry, form) {
  const body = { disposition: form.disposition.value };
  if (form.notes.value.trim()) body.notes = form.notes.value.trim();
  const path = tenantPath(entry.item.tenant_slug, `/interactions/${entry.item.interaction_id}/wrap-up`);
  try {
    await api("POST", path, body);
    await refreshWork();
  } catch (error) {
    showError(error);
  }
}

async function createTicket(entry, form) {
  const body = {
    requester_id: entry.item.customer_id,
    subject: form.subject.value.trim(),
    description: form.description.value.trim(),
    channel: entry.item.channel,
    // Filed under the new ticket, this conversation is the ticket's work: nothing else is queued.
    conversation_id: entry.item.interaction_id,
  };
  try {
    const ticket = await api("POST", tenantPath(entry.item.tenant_slug, "/tickets"), body);
    form.reset();
    form.closest("details").open = false;
    status(entry, format(T.ticket_created, { ref: ticket.reference }));
    await showFiled(entry);
  } catch (error) {
    showError(error);
  }
}

async function attach(entry, ticketId) {
  const path = tenantPath(entry.item.tenant_slug, `/tickets/${ticketId}/conversations`);
  const ticket = await api("POST", path, { interaction_id: entry.item.interaction_id });
  await showFiled(entry);
  return ticket;
}

async function showFiled(entry) {
  await loadDetail(entry);
  if (selected === entry.item.interaction_id) await select(selected);
}

async function fileUnder(entry, ticketId) {
  try {
    const ticket = await attach(entry, ticketId);
    status(entry, format(T.ticket_filed, { ref: ticket.reference }));
  } catch (error) {
    showError(error);
  }
}

// The other ticket of a link or merge: the number typed, else the one chosen in the list.
async function otherTicket(entry, form) {
  const typed = form.reference.value.trim();
  if (!typed) {
    const option = form.other?.selectedOptions[0];
    return option ? { id: option.value, reference: option.dataset.reference } : null;
  }
  const query = new URLSearchParams({ text: typed, limit: "20" });
  const found = await api("GET", tenantPath(entry.item.tenant_slug, `/tickets?${query}`));
  const ticket = found.items.find((t) => t.reference.toLowerCase() === typed.toLowerCase());
  if (!ticket) status(entry, format(T.no_such_ticket, { ref: typed }));
  return ticket ? { id: ticket.id, reference: ticket.reference } : null;
}

function wireRelate(entry, form) {
  const confirm = form.querySelector(".merge-confirm");
  let other = null;
  const names = () => ({ target: form.dataset.reference, source: other?.reference || "" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      other = await otherTicket(entry, form);
    } catch (error) {
      showError(error);
      return;
    }
    if (!other) return;
    if (form.relation.value === "merge") {
      // Merging closes a ticket for good: the agent says yes to exactly what will happen.
      text(confirm.querySelector(".merge-question"), format(T.merge_question, names()));
      confirm.hidden = false;
      confirm.querySelector(".merge-no").focus();
      return;
    }
    const path = tenantPath(entry.item.tenant_slug, `/tickets/${form.dataset.ticket}/links`);
    try {
      await api("POST", path, { other_id: other.id });
      status(entry, format(T.tickets_linked, { one: names().target, other: names().source }));
      await select(entry.item.interaction_id);
    } catch (error) {
      showError(error);
    }
  });
  confirm.querySelector(".merge-no").addEventListener("click", () => {
    confirm.hidden = true;
    form.querySelector('[type="submit"]').focus();
  });
  confirm.querySelector(".merge-yes").addEventListener("click", async () => {
    const path = tenantPath(entry.item.tenant_slug, `/tickets/${form.dataset.ticket}/merge`);
    const done = names();
    try {
      await api("POST", path, { source_id: other.id });
      status(entry, format(T.merged, done));
      await loadDetail(entry);
      await select(entry.item.interaction_id);
    } catch (error) {
      confirm.hidden = true;
      showError(error);
    }
  });
}

async function insertMacro(entry) {
  const form = entry.panel.querySelector(".reply-form");
  const chosen = form.querySelector(".macro-pick").value;
  if (!chosen || !entry.detail?.ticket_id) return;
  const [templateId, index] = chosen.split(":");
  const path = tenantPath(entry.item.tenant_slug, `/tickets/${entry.detail.ticket_id}/macros/render`);
  try {
    const macro = await api("POST", path, { template_id: templateId, index: Number(index) });
    const area = form.querySelector("textarea");
    const at = area.selectionStart ?? area.value.length;
    area.value = area.value.slice(0, at) + macro.text + area.value.slice(area.selectionEnd ?? at);
    area.focus();
    area.selectionStart = area.selectionEnd = at + macro.text.length;
    status(entry, format(T.macro_inserted, { name: macro.name }));
  } catch (error) {
    showError(error);
  }
}

async function callAction(entry, verb) {
  const path = tenantPath(entry.item.tenant_slug, `/calls/${entry.item.interaction_id}/${verb}`);
  try {
    await api("POST", path);
    entry.onHold = verb === "hold";
    // Kept for this tab, so a reload still offers to resume a caller left on hold.
    const held = `centralita.held.${entry.item.interaction_id}`;
    if (entry.onHold) sessionStorage.setItem(held, "1");
    else sessionStorage.removeItem(held);
    if (verb === "hang-up") {
      status(entry, T.call_ended);
      await refreshWork();
      entry.panel?.querySelector(".wrap-up-form select")?.focus();
      return;
    }
    if (!current(entry)) return;
    render(entry);
    entry.panel.querySelector(entry.onHold ? ".call-resume" : ".call-hold").focus();
  } catch (error) {
    showError(error);
  }
}

// --- callbacks ----------------------------------------------------------------------------
// Callback work carries its callback: why it exists, the number, and what each attempt gave.

function renderCallback(entry) {
  const box = entry.panel.querySelector(".callback-panel");
  const { callback } = entry;
  box.hidden = !callback;
  if (!callback) return;
  const attempt = Math.min(callback.attempts.length + 1, callback.max_attempts);
  text(
    box.querySelector(".callback-reason"),
    format(T.callback_why, { reason: callback.reason, attempt, max: callback.max_attempts }),
  );
  const open = callback.status === "queued";
  const dial = box.querySelector(".callback-dial");
  dial.hidden = !open;
  dial.disabled = !callback.phone;
  text(dial, callback.phone ? format(T.callback_dial, { phone: callback.phone }) : T.callback_no_phone);
  box.querySelector(".callback-question").hidden = !open;
  box.querySelector(".callback-outcomes").hidden = !open;
  const due = new Date(callback.due_at).toLocaleString(document.documentElement.lang);
  text(box.querySelector(".callback-state"), open ? "" : format(T[`callback_${callback.status}`] || "", { time: due }));
}

async function dialCallback(entry) {
  const { phone } = entry.callback;
  try {
    await api("POST", tenantPath(entry.item.tenant_slug, "/calls"), { to: phone });
    text(entry.panel.querySelector(".callback-state"), format(T.callback_calling, { phone }));
  } catch (error) {
    showError(error);
  }
}

async function recordOutcome(entry, outcome) {
  const path = tenantPath(entry.item.tenant_slug, `/callbacks/${entry.callback.id}/attempts`);
  try {
    const callback = await api("POST", path, { outcome });
    if (!current(entry)) return;
    entry.callback = callback;
    renderCallback(entry);
  } catch (error) {
    showError(error);
  }
}

async function updateTicket(entry, form) {
  const path = tenantPath(entry.item.tenant_slug, `/tickets/${form.dataset.ticket}`);
  try {
    await api("PATCH", path, { status: form.status.value });
    status(entry, T.ticket_updated);
    await select(entry.item.interaction_id);
  } catch (error) {
    showError(error);
  }
}

// --- reconciling with the server's truth ------------------------------------------------

function drop(entry) {
  const id = entry.item.interaction_id;
  entry.offer?.remove();
  entry.panel?.remove();
  entry.tab?.remove();
  work.delete(id);
  if (selected === id) {
    selected = null;
    $("customer-side").replaceChildren();
  }
}

function reconcile(snapshot) {
  showPresence(snapshot.presence, snapshot.presence_reason);
  const seen = new Set();
  for (const item of snapshot.work) {
    const id = item.interaction_id;
    seen.add(id);
    const known = work.get(id);
    // Work that had a tab and is offered again (sent back to this agent) starts over as an
    // offer: its old tab goes, and what is still loading for the old one is ignored.
    if (known && known.panel && item.state === "offered") drop(known);
    const kept = work.get(id);
    if (kept) {
      kept.item = item;
      render(kept);
    } else {
      const entry = { item, detail: null, customer: null, panel: null, tab: null, offer: null };
      entry.onHold = sessionStorage.getItem(`centralita.held.${id}`) === "1";
      work.set(id, entry);
      render(entry);
      reload(entry);
    }
  }
  for (const [id, entry] of work) {
    if (!seen.has(id)) drop(entry);
  }
  const tabs = [...work.values()].filter((e) => e.panel);
  $("empty-work").hidden = work.size > 0;
  if (!selected && tabs.length) select(tabs[0].item.interaction_id);
}

// Refreshes overlap (every event asks for one); an answer that started before a later request
// may arrive after it with older state, and must not bring back work that has left.
let workRequests = 0;

async function refreshWork() {
  const request = ++workRequests;
  try {
    const items = await api("GET", "/api/v1/agents/me/work");
    if (request === workRequests) reconcile(items);
  } catch (error) {
    showError(error);
  }
}

function onEvent(event) {
  if (event.type === "interaction.message_added") {
    const entry = work.get(event.data.interaction_id);
    if (!entry) return;
    const message = event.data.message;
    // The event carries the message: shown at once, without asking the server for the thread.
    if (message && entry.detail && entry.panel) {
      const thread = entry.detail.messages || (entry.detail.messages = []);
      if (!thread.some((known) => known.id === message.id)) thread.push(message);
      render(entry);
      return;
    }
    reload(entry);
    return;
  }
  if (event.type === "agent.presence_changed") {
    showPresence(event.data.presence, event.data.reason);
    return;
  }
  if (event.type.startsWith("interaction.")) refreshWork();
}

function tick() {
  const now = Date.now();
  for (const entry of work.values()) {
    const { item } = entry;
    if (entry.offer && item.expires_at) {
      const left = (new Date(item.expires_at).getTime() - now) / 1000;
      text(entry.offer.querySelector(".offer-countdown"), format(T.expires, { num: Math.max(0, Math.ceil(left)) }));
    }
    if (entry.panel && entry.detail) {
      const wrapping = item.state === "wrap_up";
      const since = wrapping ? entry.detail.ended_at : item.answered_at;
      if (since) {
        const seconds = (now - new Date(since).getTime()) / 1000;
        text(entry.panel.querySelector(".work-timer"), format(wrapping ? T.wrapping : T.handling, { time: clock(seconds) }));
      }
    }
  }
}

document.addEventListener("keydown", (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  const offers = [...work.values()].filter((e) => e.offer);
  const current = selected ? work.get(selected) : null;
  const key = event.key.toLowerCase();
  if (key === "a" && offers.length) decide(offers[0], "accept");
  else if (key === "x" && offers.length) decide(offers[0], "reject");
  else if (key === "e" && current && current.item.state === "active") {
    if (isCall(current)) callAction(current, "hang-up");
    else endConversation(current);
  }
  else if (key === "w" && current) current.panel.querySelector(".wrap-up-form select")?.focus();
  else if (/^[1-9]$/.test(key)) {
    const tabs = [...work.values()].filter((e) => e.panel);
    const target = tabs[Number(key) - 1];
    if (!target) return;
    select(target.item.interaction_id);
    target.tab.focus();
  } else return;
  event.preventDefault();
});

live("/ws/agent", {
  onSnapshot: reconcile,
  onEvent,
  onState(state) {
    const node = $("connection");
    node.className = `connection connection-${state}`;
    text(node, state === "open" ? T.connected : T.reconnecting);
    if (state === "open") {
      // Messages that arrived while the socket was down are in the threads, not in the replay.
      for (const entry of work.values()) reload(entry);
    }
  },
});
setInterval(tick, 1000);
showPresence(presence);
