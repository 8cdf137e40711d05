// The room display: keep the check-in QR code current and count down to the next one.
// The server decides the code; this page asks for it every few seconds and whenever the countdown ends.
(() => {
  const root = document.querySelector("[data-code-url]");
  if (!root) return;
  const frame = root.querySelector(".qr-frame");
  const countdown = root.querySelector("[data-countdown]");
  const warning = root.querySelector("[data-stale-warning]");
  const refreshMs = Number(root.dataset.refreshSeconds || 5) * 1000;
  // A code is accepted for at most two windows: past that, what is on screen is useless.
  const staleMs = Number(root.dataset.windowSeconds || 30) * 2000;
  let rotatesAt = Date.now() + Number(root.dataset.rotatesIn) * 1000;
  let fetchedAt = Date.now();
  let inFlight = false;

  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    try {
      const response = await fetch(root.dataset.codeUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 410) {
        window.location.reload(); // the session has ended
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      if (data.code !== root.dataset.code) {
        frame.innerHTML = data.svg;
        root.dataset.code = data.code;
      }
      rotatesAt = Date.now() + data.rotates_in * 1000;
      fetchedAt = Date.now();
    } catch (error) {
      // Keep the last code while it is still accepted; the warning below says when it is not.
    } finally {
      inFlight = false;
    }
  }

  function tick() {
    const left = Math.max(0, Math.ceil((rotatesAt - Date.now()) / 1000));
    countdown.textContent = String(left);
    if (left === 0) refresh();
    const stale = Date.now() - fetchedAt > staleMs;
    warning.hidden = !stale;
    frame.classList.toggle("stale", stale);
  }

  setInterval(tick, 1000);
  setInterval(refresh, refreshMs);
  tick();
})();
