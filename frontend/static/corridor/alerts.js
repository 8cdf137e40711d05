// Operators' alerts as a banner: a room agent or device gone silent, a link losing packets. On the console pages
// the banner polls the open alerts every few seconds; on the live page the session's socket pushes
// `alert.raised` / `alert.cleared` (live.js hands them to window.corridorAlerts). Also refreshes the link-quality
// charts panel where the page has one.
(() => {
  const banner = document.querySelector("[data-alerts-banner]");
  const list = banner?.querySelector("[data-alerts-list]");
  const language = (document.documentElement.lang || "en").toLowerCase();
  const shown = new Map(); // alert key -> alert

  function text(alert) {
    if (alert.text) return alert.text;
    const words = alert.message || {};
    return words[language] || words[language.split("-")[0]] || words.en || "";
  }

  function render() {
    if (!banner || !list) return;
    list.replaceChildren(
      ...[...shown.values()].map((alert) => {
        const item = document.createElement("li");
        item.dataset.alertKey = alert.key;
        item.dataset.alertKind = alert.kind;
        item.textContent = text(alert);
        return item;
      }),
    );
    banner.hidden = shown.size === 0;
  }

  window.corridorAlerts = {
    apply(frame) {
      const alert = frame.data;
      if (!alert || !alert.key) return;
      if (frame.type === "alert.raised") shown.set(alert.key, alert);
      else if (frame.type === "alert.cleared" && shown.get(alert.key)?.id === alert.id) shown.delete(alert.key);
      render();
    },
    replace(alerts) {
      shown.clear();
      for (const alert of alerts) shown.set(alert.key, alert);
      render();
    },
  };

  if (banner?.dataset.initial) {
    try {
      window.corridorAlerts.replace(JSON.parse(banner.dataset.initial));
    } catch (error) {
      // a malformed attribute: the socket or the next poll fills the banner
    }
  }

  async function poll() {
    if (document.hidden) return;
    try {
      const response = await fetch(banner.dataset.pollUrl, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) window.corridorAlerts.replace((await response.json()).alerts);
    } catch (error) {
      // offline for a moment: the next poll tries again
    }
  }
  if (banner?.dataset.pollUrl) {
    poll();
    setInterval(poll, 3000);
    document.addEventListener("visibilitychange", poll);
  }

  const panel = document.querySelector("[data-links-panel]");
  if (panel) {
    let pending = false;
    const refresh = async () => {
      if (pending || document.hidden) return;
      pending = true;
      try {
        const response = await fetch(panel.dataset.panelUrl, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) panel.innerHTML = await response.text();
      } catch (error) {
        // the next tick tries again
      } finally {
        pending = false;
      }
    };
    setInterval(refresh, Number(panel.dataset.refreshSeconds || 5) * 1000);
  }
})();
