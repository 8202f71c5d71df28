// The supervisor's wallboard: queue figures patched in from /ws/supervisor as they are pushed,
// the parts that name people re-rendered by the server when work moves.

import { api, clock, format, fragment, tenantPath, texts } from "./api.js";
import { live } from "./live.js";

const T = texts("board-texts");
const board = document.querySelector(".board");
const slug = board.dataset.tenant;
const $ = (id) => document.getElementById(id);
const lang = document.documentElement.lang;
const percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
let refreshTimer = null;
let refreshing = false;

function share(value) {
  return value === null || value === undefined ? "—" : percent.format(value);
}

function duration(seconds) {
  return seconds === null || seconds === undefined ? "—" : clock(seconds);
}

function showError(error) {
  const box = $("board-error");
  box.textContent = format(T.error, { detail: error.message || String(error) });
  box.hidden = false;
  setTimeout(() => {
    box.hidden = true;
  }, 8000);
}

function set(tile, name, value) {
  const node = tile.querySelector(`[data-field="${name}"]`);
  if (node) node.textContent = String(value);
}

function updateTiles(queues) {
  const alerts = [];
  let missing = false;
  for (const q of queues) {
    const tile = board.querySelector(`[data-queue="${q.queue_id}"]`);
    if (!tile) {
      missing = true;
      continue;
    }
    set(tile, "waiting", q.waiting);
    set(tile, "longest", q.waiting ? duration(q.longest_wait_seconds) : "—");
    set(tile, "sl30", share(q.last_30_minutes.service_level));
    set(tile, "sltoday", share(q.today.service_level));
    set(tile, "asa", duration(q.today.asa_seconds));
    set(tile, "abandonment", share(q.today.abandonment_rate));
    set(tile, "offered", q.today.offered);
    const sl = q.last_30_minutes.service_level;
    const below = sl !== null && sl * 100 < q.sl_target_percent;
    tile.classList.toggle("tile-below", below);
    if (below) {
      alerts.push(format(T.below_target, { queue: q.name, sl: share(sl), target: share(q.sl_target_percent / 100) }));
    }
  }
  if (queues.length) {
    const agents = queues[0].agents;
    const tile = board.querySelector(".tile-agents");
    if (tile) {
      for (const state of ["available", "busy", "wrap_up", "away", "offline"]) set(tile, state, agents[state]);
      const working = agents.busy + agents.available;
      set(tile, "occupancy", working ? share(agents.busy / working) : "—");
    }
  }
  renderAlerts(alerts);
  $("updated").textContent = new Date().toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (missing) scheduleRefresh();
}

function renderAlerts(alerts) {
  const list = $("alerts");
  list.replaceChildren(
    ...alerts.map((message) => {
      const li = document.createElement("li");
      li.className = "alert";
      li.textContent = message;
      return li;
    }),
  );
}

function scheduleRefresh(delay = 1000) {
  if (refreshTimer) return;
  refreshTimer = setTimeout(refresh, delay);
}

async function refresh() {
  refreshTimer = null;
  if (refreshing) {
    scheduleRefresh();
    return;
  }
  // A supervisor halfway through choosing an action keeps their form.
  if (board.querySelector("#live select:focus")) {
    scheduleRefresh(3000);
    return;
  }
  refreshing = true;
  try {
    const query = new URLSearchParams({ tenant: slug });
    const queue = new URLSearchParams(location.search).get("queue");
    if (queue) query.set("queue", queue);
    const nodes = await fragment(`/supervisor/live?${query}`);
    $("live").replaceChildren(...nodes);
  } catch (error) {
    showError(error);
  } finally {
    refreshing = false;
  }
}

$("live").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  try {
    if (form.classList.contains("agent-state-form")) {
      const [presence, reason] = form.state.value.split(":");
      const body = reason ? { presence, reason } : { presence };
      await api("PUT", tenantPath(slug, `/agents/${form.dataset.agent}/presence`), body);
    } else if (form.classList.contains("offer-form")) {
      await api("POST", tenantPath(slug, `/interactions/${form.dataset.interaction}/offer`), { agent_id: form.agent.value });
    } else if (form.classList.contains("move-form")) {
      await api("PATCH", tenantPath(slug, `/interactions/${form.dataset.interaction}`), { queue: form.queue.value });
    }
    await refresh();
  } catch (error) {
    showError(error);
  }
});

function tick() {
  const now = Date.now();
  for (const node of board.querySelectorAll("[data-since]")) {
    if (node.dataset.since) node.textContent = clock((now - new Date(node.dataset.since).getTime()) / 1000);
  }
}

$("tv-mode").addEventListener("click", () => {
  const on = document.body.classList.toggle("tv");
  if (on && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
  if (!on && document.fullscreenElement) document.exitFullscreen();
});
document.addEventListener("fullscreenchange", () => {
  if (!document.fullscreenElement) document.body.classList.remove("tv");
});
if (new URLSearchParams(location.search).get("tv") === "1") document.body.classList.add("tv");

live(`/ws/supervisor?${new URLSearchParams({ tenant: slug })}`, {
  onSnapshot(snapshot) {
    updateTiles(snapshot.queues);
  },
  onEvent(event) {
    if (event.type === "queue.stats_updated") updateTiles(event.data.queues);
    // A survey answer moves the CSAT and NPS of its queue and agent, rendered with the grid.
    else if (event.type.startsWith("interaction.") || event.type === "survey.answered") scheduleRefresh();
  },
  onState(state) {
    const node = $("connection");
    node.className = `connection connection-${state}`;
    node.textContent = state === "open" ? T.connected : T.reconnecting;
    if (state === "open") scheduleRefresh(0);
  },
});
setInterval(tick, 1000);
// Time in state and presence changes are not pushed: a slow refresh keeps the grid true.
setInterval(() => scheduleRefresh(0), 15000);
