// The rooms page: each room's state (agent online, live) is read again every few seconds, as on a room's console.
(() => {
  const list = document.querySelector("[data-rooms-list]");
  if (!list) return;
  const every = Number(list.dataset.refreshSeconds || 3) * 1000;
  setInterval(async () => {
    // Not while a keyboard user is on a link in the list: replacing it would lose their place.
    if (document.hidden || list.contains(document.activeElement)) return;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-rooms-list]");
      if (fresh) list.innerHTML = fresh.innerHTML;
    } catch (error) {
      // Offline for a moment: the next tick tries again.
    }
  }, every);
})();

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

  // Camera presets: the answer comes from the camera through the room agent within about 2 seconds; ask for it
  // until it is no longer pending, and write it in the camera's status line (a polite live region).
  async function followCamera(result) {
    for (let tries = 0; tries < 24; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      try {
        const response = await fetch(result.dataset.stateUrl, { credentials: "same-origin", cache: "no-store" });
        if (!response.ok) continue;
        const state = await response.json();
        result.textContent = state.text;
        result.dataset.state = state.state;
        result.dataset.outcome = state.outcome;
        if (state.state !== "pending") return;
      } catch (error) {
        // A moment offline: ask again.
      }
    }
  }

  for (const form of document.querySelectorAll("[data-camera-form]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      const result = form.closest("[data-camera]").querySelector("[data-camera-result]");
      button.disabled = true;
      try {
        // getAttribute: the form's `action` field would shadow `form.action`.
        const response = await fetch(form.getAttribute("action"), {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        const reply = await response.json();
        result.textContent = response.ok ? reply.text : reply.error?.message || response.statusText;
        result.dataset.state = response.ok ? reply.state : "failed";
        result.dataset.outcome = response.ok ? reply.outcome : reply.error?.code || "";
        if (response.ok) await followCamera(result);
      } catch (error) {
        form.submit();
      } finally {
        button.disabled = false;
      }
    });
  }

  // A command sent without JavaScript (or just before a reload) is followed from here.
  for (const result of document.querySelectorAll("[data-camera-result][data-state=pending]")) followCamera(result);

  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
