// The course page's "being prepared, 40 %": follows a session's composition until its file is ready (the download
// link then replaces the bar) or it failed, without a reload. The server words the text in the page's language.
(function () {
  "use strict";
  const POLL_MS = 2000;

  function follow(box) {
    const bar = box.querySelector("progress");
    const text = box.querySelector("[data-composition-text]");

    function ready(url, label) {
      const link = document.createElement("a");
      link.className = "button primary composed-recording";
      link.href = url;
      link.textContent = box.dataset.downloadLabel || label;
      const line = document.createElement("p");
      line.append(link);
      box.replaceWith(line);
    }

    async function poll() {
      try {
        const response = await fetch(box.dataset.compositionProgress, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (response.ok) {
          const progress = await response.json();
          bar.value = progress.progress;
          bar.textContent = `${progress.progress} %`;
          text.textContent = progress.text;
          box.closest("[data-composition]")?.setAttribute("data-composition", progress.state);
          if (progress.url) {
            ready(progress.url, progress.text);
            return;
          }
          if (progress.finished) {
            bar.hidden = true;
            return;
          }
        }
      } catch (error) {
        // A dropped request is retried on the next tick.
      }
      setTimeout(poll, POLL_MS);
    }
    setTimeout(poll, POLL_MS);
  }

  document.querySelectorAll("[data-composition-progress]").forEach(follow);
})();
