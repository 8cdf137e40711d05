// The issuing run's progress bar: polls the batch's progress (kept in the database, so a reload
// or a restarted worker loses nothing) until nothing remains.
(function () {
  "use strict";
  const root = document.getElementById("batch");
  if (!root) return;
  const url = root.dataset.progressUrl;
  const bar = root.querySelector("[data-bar]");
  const fill = bar.querySelector(".progress-bar");
  const failures = root.querySelector("[data-failures]");
  const failureRows = root.querySelector("[data-failure-rows]");
  const stateText = root.querySelector('[data-field="state"]');
  const { t } = window.corridor;

  function show(progress) {
    for (const key of ["done", "failed", "remaining", "total"]) {
      const cell = root.querySelector(`[data-field="${key}"]`);
      if (cell) cell.textContent = String(progress[key]);
    }
    fill.setAttribute("width", `${progress.percent}%`);
    bar.setAttribute("aria-valuemax", String(progress.total));
    bar.setAttribute("aria-valuenow", String(progress.done + progress.failed));
    stateText.textContent = progress.finished ? t("finished") : t("working");
    root.dataset.finished = progress.finished ? "true" : "false";
    failures.hidden = progress.failures.length === 0;
    failureRows.replaceChildren(
      ...progress.failures.map((failure) => {
        const row = document.createElement("tr");
        for (const text of [failure.user, failure.error]) {
          const cell = document.createElement("td");
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      }),
    );
  }

  async function poll() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const progress = await response.json();
        show(progress);
        if (progress.finished) return;
      }
    } catch (error) {
      // A dropped request is retried on the next tick.
    }
    setTimeout(poll, 700);
  }

  const initial = JSON.parse(document.getElementById("batch-initial").textContent);
  show(initial);
  if (!initial.finished) setTimeout(poll, 300);
})();
