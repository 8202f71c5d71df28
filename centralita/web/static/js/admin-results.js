// What some admin forms get back from the API and show in the page instead of reloading it
// (forms.js hands the answer over as an "api-result" event): a rule's dry-run, a new webhook's
// secret (shown this once). Everything reaches the page by textContent.

import { format, texts } from "./api.js";

const T = texts("admin-texts");

function timeOf(iso, zone) {
  return new Date(iso).toLocaleString(document.documentElement.lang || undefined, {
    timeZone: zone || undefined,
    dateStyle: "short",
    timeStyle: "medium",
  });
}

function showDryRun(form, answer) {
  const region = document.getElementById(form.dataset.resultIn);
  const summary = document.createElement("p");
  summary.textContent = format(T.dry_run_summary, {
    events: answer.events_examined,
    matches: answer.matches.length,
  });
  const parts = [summary];
  if (answer.matches.length === 0) {
    const none = document.createElement("p");
    none.className = "muted";
    none.textContent = T.dry_run_none;
    parts.push(none);
  } else {
    const list = document.createElement("ol");
    list.className = "dry-run-matches";
    for (const match of answer.matches) {
      const item = document.createElement("li");
      const when = document.createElement("time");
      when.dateTime = match.at;
      when.textContent = timeOf(match.at, region.dataset.zone);
      const type = document.createElement("code");
      type.textContent = match.event_type;
      const actions = document.createElement("ul");
      for (const action of match.actions) {
        const line = document.createElement("li");
        const { type: kind, ...details } = action;
        line.textContent = Object.keys(details).length ? `${kind} · ${JSON.stringify(details)}` : kind;
        actions.append(line);
      }
      item.append(when, " · ", type, actions);
      list.append(item);
    }
    parts.push(list);
  }
  region.replaceChildren(...parts);
  region.hidden = false;
  region.focus();
}

function showSecret(form, answer) {
  const region = document.getElementById(form.dataset.resultIn);
  region.querySelector("[data-secret]").textContent = answer.secret;
  region.querySelector("[data-url]").textContent = answer.url;
  form.hidden = true;
  region.hidden = false;
  region.focus();
}

const SHOW = { "dry-run": showDryRun, secret: showSecret };

for (const form of document.querySelectorAll("form[data-api]")) {
  form.addEventListener("api-result", (event) => SHOW[event.detail.kind](form, event.detail.answer));
}
