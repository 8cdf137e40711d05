// The server's websocket close codes (lms/close_codes.py, docs/live-protocol.md), from the page's
// `{% close_codes %}` element: `corridor.closeCodes.FORBIDDEN`, and `corridor.isRefusal(code)` for
// "go away" (reconnecting as is cannot help) as opposed to "try again".
(() => {
  "use strict";
  const element = document.getElementById("corridor-close-codes");
  const table = element ? JSON.parse(element.textContent) : { codes: {}, refusal: [4400, 4499] };
  const [first, last] = table.refusal;
  const isRefusal = (code) => code >= first && code <= last;
  window.corridor = Object.assign(window.corridor || {}, { closeCodes: Object.freeze(table.codes), isRefusal });
})();
