// A filter that applies as soon as it changes (the cohort on the eligibility page): a <select data-submit-on-change>
// submits its form. In a file, not an onchange attribute, so the Content Security Policy needs no inline script.
(function () {
  "use strict";
  for (const field of document.querySelectorAll("[data-submit-on-change]")) {
    field.addEventListener("change", () => field.form?.requestSubmit());
  }
})();
