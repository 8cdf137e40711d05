// LTI deep linking: the page that carries the signed choice back to the learning platform sends it at once (its
// button does the same without script). In a file, so the Content Security Policy needs no inline script.
(function () {
  "use strict";
  for (const form of document.querySelectorAll("form[data-lti-auto-submit]")) {
    form.requestSubmit();
  }
  // A roster pull still waiting or running (a Celery task): the page looks again every two seconds until it is done.
  if (document.querySelector("[data-lti-roster-running]")) {
    window.setTimeout(function () {
      window.location.reload();
    }, 2000);
  }
})();
