// Search-as-you-type on the help centre: while the visitor types, the results list is replaced
// by the server-rendered fragment for the current words. Without JavaScript the form still works.
const DEBOUNCE_MS = 200;

const form = document.querySelector("form[data-live-results]");
const input = form?.querySelector("input[name=q]");
const results = document.getElementById("help-results");

if (form && input && results) {
  let timer = 0;
  let latest = 0;
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const asked = ++latest;
      const url = `${form.dataset.liveResults}?${new URLSearchParams({ q: input.value })}`;
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      // An older, slower answer must not overwrite the answer to what is typed now.
      if (response.ok && asked === latest) {
        // The fragment is rendered by the server with every value escaped.
        results.innerHTML = await response.text();
      }
    }, DEBOUNCE_MS);
  });
}
