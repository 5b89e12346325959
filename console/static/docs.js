// The API reference, rendered by the vendored Swagger UI: no CDN.
window.addEventListener("load", function () {
  SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger", deepLinking: true });
});
