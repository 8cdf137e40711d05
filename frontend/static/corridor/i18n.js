// The page's words in its language: one JSON element written by `{% js_strings %}` (frontend/templatetags),
// read here. `corridor.t(key, values)` fills `{name}` from values and picks {one, other} by `values.count`;
// a dotted key reaches a nested set ("media.connecting"). `corridor.has(key)` says whether a word exists.
(() => {
  "use strict";
  const element = document.getElementById("corridor-strings");
  const strings = element ? JSON.parse(element.textContent) : {};
  const plurals = new Intl.PluralRules(document.documentElement.lang || "en");

  function lookup(key) {
    return key.split(".").reduce((node, part) => (node && typeof node === "object" ? node[part] : undefined), strings);
  }

  function has(key) {
    const text = lookup(key);
    return typeof text === "string" || (text !== null && typeof text === "object" && "other" in text);
  }

  function t(key, values = {}) {
    let text = lookup(key);
    if (text && typeof text === "object") text = text[plurals.select(Number(values.count) || 0)] || text.other;
    if (typeof text !== "string") return key;
    return text.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
  }

  window.corridor = Object.assign(window.corridor || {}, { t, has });
})();
