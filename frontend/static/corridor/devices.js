// The operator console: refresh the devices panel every few seconds, and send start/stop without reloading.
// The buttons live outside the refreshed panel (focus stays put); what changed is announced once, in the
// persistent status line under the buttons. Without JavaScript the forms post and the page reloads.
(() => {
  const panel = document.querySelector("[data-devices-panel]");
  if (!panel) return;
  const announce = document.querySelector("[data-stream-announce]");
  const every = Number(panel.dataset.refreshSeconds || 3) * 1000;
  let lastState = panel.querySelector("[data-stream-state]")?.dataset.streamState || "";
  let pending = false;

  async function refresh() {
    // Not while a keyboard user is on a link inside the panel: replacing it would lose their place.
    if (pending || document.hidden || panel.contains(document.activeElement)) return;
    pending = true;
    try {
      const response = await fetch(panel.dataset.panelUrl, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      panel.innerHTML = await response.text();
      const state = panel.querySelector("[data-stream-state]")?.dataset.streamState || "";
      if (state && state !== lastState && announce) announce.textContent = state;
      lastState = state;
    } catch (error) {
      // Offline for a moment: the next refresh tries again.
    } finally {
      pending = false;
    }
  }

  for (const form of document.querySelectorAll("[data-stream-form]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        const reply = await response.json();
        if (announce) announce.textContent = response.ok ? reply.message : reply.error?.message || response.statusText;
        // The agent answers within a moment: look sooner than the next tick.
        setTimeout(refresh, 700);
        setTimeout(refresh, 2000);
      } catch (error) {
        form.submit();
      } finally {
        button.disabled = false;
      }
    });
  }

  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
