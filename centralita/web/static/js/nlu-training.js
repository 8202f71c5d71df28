// The training progress bar of the administration's intents section: polls the training run the
// page shows until it is done, then reloads so the new model version is listed.

import { api, format, texts } from "./api.js";

const T = texts("admin-texts");
const holder = document.getElementById("training-progress");
const POLL_MS = 1000;

async function poll() {
  let run;
  try {
    run = await api("GET", holder.dataset.run);
  } catch {
    setTimeout(poll, POLL_MS * 5);
    return;
  }
  const bar = document.getElementById("training-bar");
  const label = document.getElementById("training-label");
  bar.value = run.percent;
  label.textContent = run.state === "queued" || !run.step
    ? T.training_queued
    : format(T.training_step, { step: T[`step_${run.step}`] ?? run.step, done: run.done, total: run.total });
  if (run.state === "succeeded" || run.state === "failed") {
    const url = new URL(location.href);
    url.searchParams.set("saved", "1");
    location.assign(url);
    return;
  }
  setTimeout(poll, POLL_MS);
}

if (holder) poll();
