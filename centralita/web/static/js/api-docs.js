// Starts Swagger UI on /api/docs from a file, since the Content-Security-Policy forbids inline script.
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui" });
});
