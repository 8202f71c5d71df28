// Campaigns page: create a campaign, upload its CSV with a progress bar, start and pause it, and
// see the import's per-row report and the results. Everything goes through the public API.
import { api, ApiError, format, texts } from "./api.js";

const root = document.getElementById("campaigns");
const base = root.dataset.api;
const t = texts("campaign-texts");
const notice = document.getElementById("campaign-notice");
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function say(text) {
  notice.textContent = text;
  notice.hidden = false;
}

function problem(error) {
  if (error instanceof ApiError && error.fieldErrors.length) {
    return error.fieldErrors.map((e) => `${e.field}: ${e.detail}`).join(" · ");
  }
  return error.message || String(error);
}

function failed(detail) {
  say(format(t.error, { detail }));
}

const form = document.getElementById("campaign-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const value = (name) => String(data.get(name) || "").trim();
  const templates = {};
  const sms = {};
  if (value("sms_es")) sms.es = value("sms_es");
  if (value("sms_en")) sms.en = value("sms_en");
  if (Object.keys(sms).length) templates.sms = sms;
  if (value("email_es")) templates.email = { es: value("email_es") };
  const body = {
    name: value("name"),
    templates,
    channels: Object.keys(templates),
    subjects: value("subject_es") ? { es: value("subject_es") } : {},
    frequency_cap: Number(value("frequency_cap") || 3),
  };
  if (value("pace_per_minute")) body.pace_per_minute = Number(value("pace_per_minute"));
  if (value("target") === "segment") body.segment = value("segment") ? { segment: value("segment") } : {};
  const summary = form.querySelector(".form-summary");
  try {
    await api("POST", `${base}/campaigns`, body);
    window.location.reload();
  } catch (error) {
    summary.textContent = `${t.fix} ${problem(error)}`;
    summary.hidden = false;
    summary.focus();
  }
});

function upload(row, file) {
  const bar = row.querySelector(".campaign-progress");
  bar.hidden = false;
  bar.value = 0;
  const request = new XMLHttpRequest();
  const name = encodeURIComponent(file.name);
  request.open("POST", `${base}/campaigns/${row.dataset.id}/targets?filename=${name}`);
  request.setRequestHeader("Content-Type", "text/csv");
  request.setRequestHeader("X-CSRF-Token", csrf);
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) bar.value = Math.round((event.loaded / event.total) * 100);
  });
  request.addEventListener("load", () => {
    bar.value = 100;
    const answer = JSON.parse(request.responseText || "{}");
    if (request.status !== 201) {
      failed(answer.detail || String(request.status));
      return;
    }
    report(answer);
  });
  request.addEventListener("error", () => failed(String(request.status)));
  request.send(file);
}

function report(imported) {
  const section = document.getElementById("import-report");
  section.hidden = false;
  document.getElementById("import-summary").textContent = format(t.imported, {
    imported: imported.rows_imported,
    rejected: imported.rows_rejected,
    read: imported.rows_read,
  });
  const rows = document.getElementById("import-errors");
  rows.replaceChildren();
  for (const refused of imported.row_errors) {
    const line = document.createElement("tr");
    const number = document.createElement("td");
    number.textContent = String(refused.row);
    const why = document.createElement("td");
    why.textContent = refused.errors.join("; ");
    line.append(number, why);
    rows.append(line);
  }
}

async function results(row) {
  const found = await api("GET", `${base}/campaigns/${row.dataset.id}/results?limit=1`);
  const list = document.getElementById("result-totals");
  list.replaceChildren();
  for (const [status, count] of Object.entries(found.totals)) {
    const term = document.createElement("dt");
    term.textContent = t.statuses[status] || status;
    const value = document.createElement("dd");
    value.textContent = String(count);
    list.append(term, value);
  }
  document.getElementById("campaign-results").hidden = false;
}

for (const row of document.querySelectorAll("#campaign-table tbody tr")) {
  row.querySelector(".campaign-file")?.addEventListener("change", (event) => {
    const [file] = event.target.files;
    if (file) upload(row, file);
  });
  for (const [selector, action] of [[".campaign-start", "start"], [".campaign-pause", "pause"]]) {
    row.querySelector(selector).addEventListener("click", async () => {
      try {
        const campaign = await api("POST", `${base}/campaigns/${row.dataset.id}/${action}`);
        row.querySelector(".campaign-status").textContent = t.states[campaign.status];
      } catch (error) {
        failed(problem(error));
      }
    });
  }
  row.querySelector(".campaign-results").addEventListener("click", () => results(row).catch((e) => failed(problem(e))));
}
