// Admin forms that speak JSON to the API: each <form data-api data-method> is turned into a body
// from its fields' dotted names, and the problem+json field errors come back beside the fields.
// A submit button may name its own data-api/data-method; a form (or button) with data-result
// hands the API's answer to the page as an "api-result" event instead of reloading.

import { api, texts } from "./api.js";

const T = texts("admin-texts");

function setPath(target, path, value) {
  const keys = path.split(".");
  let node = target;
  for (const key of keys.slice(0, -1)) node = node[key] ??= {};
  node[keys[keys.length - 1]] = value;
}

// JSON typed by a person: a parse error is shown on the field like the API's own errors.
class JsonTypo extends Error {
  constructor(input) {
    super(T.bad_json);
    this.fieldErrors = [{ field: `body.${input.name}`, detail: T.bad_json }];
  }
}

function parsedJson(input, raw) {
  try {
    return JSON.parse(raw);
  } catch {
    throw new JsonTypo(input);
  }
}

function fieldValue(input) {
  const kind = input.dataset.type;
  if (kind === "bool") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return undefined;
  if (kind === "json") return parsedJson(input, raw);
  if (kind === "int") return Number.isInteger(Number(raw)) ? Number(raw) : raw;
  if (kind === "number") return Number.isNaN(Number(raw)) ? raw : Number(raw);
  if (kind === "list") return raw.split(",").map((part) => part.trim()).filter(Boolean);
  return raw;
}

// Shapes the API wants that plain fields cannot spell.
const SHAPES = {
  // Checked skills with their level: [{skill_id, level}].
  skills(form, body) {
    body.skills = [...form.querySelectorAll("[data-skill]")]
      .filter((select) => select.value !== "0")
      .map((select) => ({ skill_id: select.dataset.skill, level: Number(select.value) }));
  },
  // The same opening on each ticked weekday: {"mon": [["09:00", "18:00"]], ...}.
  weekly(form, body) {
    const opens = form.querySelector('[name="opens"]').value;
    const closes = form.querySelector('[name="closes"]').value;
    body.weekly_hours = {};
    for (const day of form.querySelectorAll('[name="day"]:checked')) body.weekly_hours[day.value] = [[opens, closes]];
  },
};

function bodyOf(form) {
  const body = {};
  for (const input of form.elements) {
    if (!input.name || input.dataset.skip !== undefined || input.type === "submit") continue;
    if (input.dataset.type === "set") {
      if (!input.checked) continue;
      const path = input.name;
      const current = path.split(".").reduce((node, key) => node?.[key], body) ?? [];
      setPath(body, path, [...current, input.value]);
      continue;
    }
    const value = fieldValue(input);
    // data-body: the field holds the whole JSON body (a rule, say), not one member of it.
    if (input.dataset.body !== undefined) Object.assign(body, value);
    else if (value !== undefined) setPath(body, input.name, value);
  }
  for (const shape of (form.dataset.shape || "").split(" ").filter(Boolean)) SHAPES[shape](form, body);
  return body;
}

function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  }
  const summary = form.querySelector(".form-summary");
  summary.hidden = true;
  summary.replaceChildren();
}

// "body.capacity.chat" -> the input named "capacity.chat"; a deeper path falls back to the
// nearest field that exists ("body.weekly_hours.mon.0" -> a field named "weekly_hours").
// A form whose body is one JSON field takes every error there ([data-body]).
function inputFor(form, field) {
  const parts = String(field || "").split(".").slice(1);
  while (parts.length) {
    const found = form.querySelector(`[name="${CSS.escape(parts.join("."))}"], [data-field-for="${CSS.escape(parts.join("."))}"]`);
    if (found) return found;
    parts.pop();
  }
  return field ? form.querySelector("[data-body]") : null;
}

// Inside a JSON body the path is what tells the person where to look: "actions.0.priority".
function detailOf(form, problem) {
  const path = String(problem.field || "").split(".").slice(1).join(".");
  const body = form.querySelector("[data-body]");
  return path && body && path !== body.name ? `${path}: ${problem.detail}` : problem.detail;
}

function showErrors(form, error) {
  const summary = form.querySelector(".form-summary");
  const heading = document.createElement("p");
  heading.textContent = T.fix;
  const list = document.createElement("ul");
  const problems = error.fieldErrors.length ? error.fieldErrors : [{ detail: error.message }];
  problems.forEach((problem, index) => {
    const input = problem.field ? inputFor(form, problem.field) : null;
    const holder = input?.closest("label, .field, fieldset");
    const item = document.createElement("li");
    const name = holder?.querySelector("legend")?.textContent ?? holder?.firstChild?.textContent;
    const detail = detailOf(form, problem);
    item.textContent = name ? `${name.trim()}: ${detail}` : detail;
    list.append(item);
    if (!input) return;
    const note = document.createElement("p");
    note.className = "field-error";
    note.id = `${form.id}-error-${index}`;
    note.textContent = detail;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", note.id);
    if (holder) holder.append(note);
    else input.after(note);
  });
  summary.replaceChildren(heading, list);
  summary.hidden = false;
  (form.querySelector('[aria-invalid="true"]') || summary).focus();
}

for (const form of document.querySelectorAll("form[data-api]")) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = event.submitter || form.querySelector('[type="submit"]');
    const target = button.dataset.api ? button.dataset : form.dataset;
    button.disabled = true;
    try {
      const answer = await api(target.method || "POST", target.api, bodyOf(form));
      if (target.result) {
        form.dispatchEvent(new CustomEvent("api-result", { detail: { kind: target.result, answer } }));
        return;
      }
      // data-next="/path/{id}": go to what was just created instead of reloading this page.
      const next = form.dataset.next?.replace("{id}", encodeURIComponent(answer?.id ?? ""));
      const url = new URL(next || location.href, location.href);
      url.searchParams.set("saved", form.dataset.saved || "1");
      location.assign(url);
    } catch (error) {
      if (error.fieldErrors === undefined) throw error;
      showErrors(form, error);
    } finally {
      button.disabled = false;
    }
  });
}

const saved = new URLSearchParams(location.search).get("saved");
if (saved) {
  const notice = document.getElementById("saved-notice");
  if (notice) {
    notice.textContent = T.saved;
    notice.hidden = false;
  }
}
