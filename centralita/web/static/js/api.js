// Calls to the centralita API from a signed-in page: the session cookie travels by itself, the
// CSRF token from the page's <meta> goes in a header, and problem+json errors become ApiError.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    // [{field: "body.name", pointer, detail}] for validation failures.
    this.fieldErrors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  // A FormData body (files) sets its own multipart Content-Type and boundary.
  const isForm = body instanceof FormData;
  if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined || isForm ? body : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const data = isJson ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, isJson ? data : { detail: data });
  return data;
}

export function tenantPath(slug, path) {
  return `/api/v1/tenants/${encodeURIComponent(slug)}${path}`;
}

// Server-rendered fragments are escaped by Jinja; parsed here (scripts in them never run) and
// moved into the page as nodes.
export async function fragment(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) throw new ApiError(response.status, { detail: response.statusText });
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  return [...doc.body.childNodes];
}

export function texts(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : {};
}

export function format(template, values) {
  return template.replace(/%\((\w+)\)[sd]/g, (_, key) => String(values[key] ?? ""));
}

export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}
