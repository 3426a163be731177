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
  // A form with data-confirm asks first (an undo from a list, where htmx's hx-confirm is not used).
  document.addEventListener("submit", function (event) {
    var question = event.target.dataset && event.target.dataset.confirm;
    if (question && !window.confirm(question)) { event.preventDefault(); event.stopImmediatePropagation(); }
  }, true);
  // A form sent by GET (a preview button's formmethod) keeps its CSRF token out of the address bar,
  // the history and the logs.
  document.addEventListener("submit", function (event) {
    var method = (event.submitter && event.submitter.getAttribute("formmethod")) || event.target.getAttribute("method") || "get";
    var token = event.target.querySelector('input[name="csrf_token"]');
    if (token && method.toLowerCase() === "get") {
      token.disabled = true;  // left out of the form data built after this event
      setTimeout(function () { token.disabled = false; }, 0);
    }
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("global-error");
    if (box) { box.hidden = false; box.textContent = box.dataset.offline; }
  });
})();
