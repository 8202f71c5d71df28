// The knowledge editor's preview: the body as saving would render it, sanitised by the server
// (the API's /knowledge/preview), shown beside the form without saving anything.

import { api, texts } from "./api.js";

const T = texts("admin-texts");
const button = document.getElementById("preview-button");
const source = document.getElementById("body-markdown");
const pane = document.getElementById("preview");

async function showPreview() {
  button.disabled = true;
  try {
    const { html } = await api("POST", button.dataset.api, { body_markdown: source.value });
    // Sanitised HTML from the server, parsed inertly and moved in as nodes.
    const doc = new DOMParser().parseFromString(html, "text/html");
    const nodes = [...doc.body.childNodes];
    if (nodes.length) pane.replaceChildren(...nodes);
    else {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = T.empty_preview;
      pane.replaceChildren(empty);
    }
  } catch (error) {
    const failed = document.createElement("p");
    failed.className = "field-error";
    failed.textContent = error.message || T.error;
    pane.replaceChildren(failed);
  } finally {
    button.disabled = false;
  }
}

if (button && source && pane) button.addEventListener("click", showPreview);
