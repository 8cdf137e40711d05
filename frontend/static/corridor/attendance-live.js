// The attendance page while a session is live: refresh "Who is here" when attendance changes.
// The session socket pushes "attendance.updated" to moderators; polling covers everyone else
// (operators) and any moment the socket is down.
(() => {
  const section = document.querySelector("[data-presence-url][data-live]");
  if (!section) return;
  const panel = section.querySelector("[data-presence-panel]");
  const POLL_MS = 15000;
  let pending = false;

  async function reload() {
    if (pending || document.hidden) return;
    pending = true;
    try {
      const response = await fetch(section.dataset.presenceUrl, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) panel.innerHTML = await response.text();
    } catch (error) {
      // Offline for a moment: the next poll tries again.
    } finally {
      pending = false;
    }
  }

  function listen() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${section.dataset.socketPath}`);
    let heartbeat = null;
    socket.addEventListener("open", () => {
      heartbeat = setInterval(() => socket.send(JSON.stringify({ type: "heartbeat" })), 10000);
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "attendance.updated") reload();
    });
    socket.addEventListener("close", (event) => {
      clearInterval(heartbeat);
      // Refused (not allowed on the socket): polling carries on alone.
      if (!window.corridor.isRefusal(event.code)) setTimeout(listen, 5000);
    });
  }

  setInterval(reload, POLL_MS);
  document.addEventListener("visibilitychange", reload);
  if ("WebSocket" in window) listen();
})();
