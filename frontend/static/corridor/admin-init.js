// Runs the Wagtail admin's widget initialisers that lms/admin_scripts.py took out of inline scripts (the Content
// Security Policy allows no inline script): each <script type="application/json" data-admin-init="NAME"> holds the
// arguments of one call, such as initDateTimeChooser("id_starts_at", {...}) or new PageChooser("id_course", {...}).
// Only Wagtail's own date and time pickers, choosers and inline panels are called; anything else is ignored.
(function () {
  "use strict";
  const FUNCTIONS = new Set(["initDateChooser", "initTimeChooser", "initDateTimeChooser"]);
  const CONSTRUCTOR = /^new ([A-Z][A-Za-z]*Chooser|InlinePanel|MultipleChooserPanel)$/;
  const done = new WeakSet();

  function run(script) {
    if (done.has(script) || !script.isConnected) return;
    done.add(script);
    const name = script.dataset.adminInit;
    let args;
    try {
      args = JSON.parse(script.textContent);
    } catch (error) {
      console.error("admin-init: unreadable arguments", name, error);
      return;
    }
    const constructor = CONSTRUCTOR.exec(name);
    if (constructor && typeof window[constructor[1]] === "function") {
      new window[constructor[1]](...args);
    } else if (FUNCTIONS.has(name) && typeof window[name] === "function") {
      window[name](...args);
    } else {
      console.error("admin-init: not a known initialiser", name);
    }
  }

  function runWithin(node) {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    if (node.matches("script[data-admin-init]")) run(node);
    for (const script of node.querySelectorAll("script[data-admin-init]")) run(script);
  }

  function start() {
    runWithin(document.documentElement);
    // HTML the admin inserts later: dialogs opened from a <template>, chooser modals, new inline forms.
    new MutationObserver((records) => {
      for (const record of records) for (const node of record.addedNodes) runWithin(node);
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
