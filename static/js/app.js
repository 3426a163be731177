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
  // No inline script anywhere (the CSP forbids it): a select with data-autosubmit sends its form
  // when changed; a button with data-copy copies the value of the element with that id.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.hasAttribute && select.hasAttribute("data-autosubmit") && select.form) { select.form.submit(); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.dataset.copy);
    if (source && navigator.clipboard) { navigator.clipboard.writeText(source.value || source.textContent); }
    button.textContent = button.dataset.copied;
  });
  // A block with data-show-for="kind:count_card goods" is shown only while the select #kind holds
  // one of those values (the product form's fields per kind). Without JS every block shows.
  function showFor(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-show-for]").forEach(function (block) {
      var spec = block.dataset.showFor.split(":"), select = document.getElementById(spec[0]);
      if (select) { block.hidden = spec[1].split(" ").indexOf(select.value) < 0; }
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.id && document.querySelector('[data-show-for^="' + event.target.id + ':"]')) { showFor(document); }
  });
  document.addEventListener("DOMContentLoaded", function () { showFor(document); });
  document.addEventListener("htmx:load", function (event) { showFor(event.detail.elt); });
  // A file input with data-max-bytes refuses a file over that size before anything is uploaded;
  // the server checks again.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.dataset || !input.dataset.maxBytes || !input.files) { return; }
    var tooBig = Array.prototype.some.call(input.files, function (f) { return f.size > Number(input.dataset.maxBytes); });
    input.setCustomValidity(tooBig ? input.dataset.tooBig : "");
    var note = document.getElementById(input.id + "-size-error");
    if (note) { note.hidden = !tooBig; note.textContent = input.dataset.tooBig; }
    if (tooBig) { input.value = ""; }
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("global-error");
    if (box) { box.hidden = false; box.textContent = box.dataset.offline; }
  });
})();
