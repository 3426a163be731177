// Every htmx request carries the CSRF token; a 422 (form with errors) is swapped like a 200.
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener("htmx:configRequest", function (event) {
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
  });
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422", swap: true },
      { code: "[45]..", swap: false, error: true }
    ];
    htmx.config.historyCacheSize = 0;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("global-error");
    if (!box) { return; }
    box.hidden = false;
    box.textContent = box.dataset.message + " (" + event.detail.xhr.status + ")";
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("global-error");
    if (box) { box.hidden = false; box.textContent = box.dataset.offline; }
  });
})();
