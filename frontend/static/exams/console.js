// The invigilator's console (exams/console.html): the candidates' table, its counts and the sitting's log update at
// once from the console socket (exams/console_consumer.py), which sends the whole state on every change; the
// running clocks count down between frames. Filters show candidates in one state; "Act on seat …" and "Incident at
// seat …" choose the candidate in the forms below and move the focus there.
(() => {
  "use strict";
  const section = document.querySelector("[data-console]");
  if (!section) return;
  const t = window.corridor.t;
  const zone = section.dataset.timeZone;
  const link = section.querySelector("[data-console-link]");
  const lang = document.documentElement.lang || "en";
  const timeFormat = new Intl.DateTimeFormat(lang, {
    timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  let filter = "all";

  const clockText = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const rest = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
  };
  const at = (iso) => (iso ? timeFormat.format(new Date(iso)) : "—");

  function cell(row, text, className) {
    const td = row.insertCell();
    if (className) td.className = className;
    if (text !== undefined) td.textContent = text;
    return td;
  }

  function pickLink(target, kind, label) {
    const a = document.createElement("a");
    a.href = kind === "action" ? "#console-action" : "#console-incident";
    a.dataset.pick = kind;
    a.textContent = label;
    return a;
  }

  function renderRows(rows) {
    const tbody = section.querySelector("[data-console-rows]");
    if (!tbody) return;
    tbody.replaceChildren();
    for (const data of rows) {
      const tr = tbody.insertRow();
      tr.dataset.candidate = data.candidate_id;
      tr.dataset.state = data.state;
      if (data.checked_in_at) tr.dataset.checkedIn = "";
      if (data.started_at) tr.dataset.started = "";
      cell(tr, String(data.seat));
      const who = cell(tr);
      const name = document.createElement("span");
      name.className = "candidate-name";
      name.textContent = data.name;
      const number = document.createElement("span");
      number.className = "muted";
      number.textContent = data.number;
      who.append(name, " ", number);
      cell(tr, at(data.checked_in_at));
      cell(tr, at(data.started_at));
      const left = cell(tr, undefined, "time-left");
      left.dataset.secondsLeft = data.seconds_left;
      if (data.running) left.dataset.running = "";
      left.textContent = clockText(data.seconds_left);
      if (data.extra_seconds) {
        const extra = document.createElement("span");
        extra.className = "muted";
        extra.textContent = `(${t("extra", { minutes: Math.round(data.extra_seconds / 60) })})`;
        left.append(" ", extra);
      }
      const state = cell(tr, undefined, "state");
      const tag = document.createElement("span");
      tag.className = `tag state-${data.state}`;
      let label = t(`states.${data.state}`);
      if (data.state === "submitted" && data.submitted_how) label += ` · ${t(`how.${data.submitted_how}`)}`;
      tag.textContent = label;
      state.append(tag);
      cell(tr, at(data.last_saved_at));
      cell(tr, String(data.incidents));
      const actions = cell(tr);
      actions.append(
        pickLink(data.candidate_id, "action", t("act", { seat: data.seat })),
        " · ",
        pickLink(data.candidate_id, "incident", t("incident", { seat: data.seat })),
      );
    }
    applyFilter();
  }

  function renderCounts(counts) {
    for (const [key, value] of Object.entries(counts)) {
      const span = section.querySelector(`[data-count="${key}"]`);
      if (span) span.textContent = String(value);
    }
  }

  function renderLog(log) {
    const tbody = document.querySelector("[data-console-log]");
    if (!tbody) return;
    tbody.replaceChildren();
    for (const entry of log) {
      const tr = tbody.insertRow();
      tr.dataset.log = entry.what;
      cell(tr, at(entry.at));
      const extra = entry.seconds ? ` (${t("extra", { minutes: Math.round(entry.seconds / 60) })})` : "";
      cell(tr, entry.label + extra);
      cell(tr, entry.cause || "—");
      cell(tr, entry.seat === null ? t("whole_room") : t("seat", { seat: entry.seat }));
      cell(tr, entry.text);
      cell(tr, entry.by);
    }
    tbody.closest("table").hidden = log.length === 0;
    document.querySelector("[data-console-log-empty]").hidden = log.length > 0;
  }

  function matches(tr) {
    if (filter === "all") return true;
    if (filter === "checked_in") return "checkedIn" in tr.dataset;
    if (filter === "started") return "started" in tr.dataset;
    return tr.dataset.state === filter;
  }

  function applyFilter() {
    let shown = 0;
    for (const tr of section.querySelectorAll("[data-console-rows] tr")) {
      tr.hidden = !matches(tr);
      if (!tr.hidden) shown += 1;
    }
    const empty = section.querySelector("[data-console-filter-empty]");
    if (empty) empty.hidden = shown > 0;
  }

  section.addEventListener("click", (event) => {
    const button = event.target.closest("[data-filter]");
    if (button) {
      filter = button.dataset.filter;
      for (const other of section.querySelectorAll("[data-filter]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      applyFilter();
      return;
    }
    const pick = event.target.closest("[data-pick]");
    if (pick) {
      event.preventDefault();
      const candidate = pick.closest("tr").dataset.candidate;
      const select = document.getElementById(pick.dataset.pick === "action" ? "action-target" : "incident-target");
      select.value = candidate;
      select.focus();
      select.scrollIntoView({ block: "center" });
    }
  });

  // The running clocks count down between frames; each frame brings the server's own figure again.
  setInterval(() => {
    for (const td of section.querySelectorAll(".time-left[data-running]")) {
      const left = Math.max(0, Number(td.dataset.secondsLeft) - 1);
      td.dataset.secondsLeft = String(left);
      td.firstChild.textContent = clockText(left);
    }
  }, 1000);

  function listen() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${section.dataset.socketPath}`);
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type !== "console") return;
      link.textContent = t("live");
      section.dataset.live = "";
      renderRows(frame.rows);
      renderCounts(frame.counts);
      renderLog(frame.log);
    });
    socket.addEventListener("close", (event) => {
      delete section.dataset.live;
      if (window.corridor.isRefusal(event.code)) {
        link.textContent = t("refused");
        return;
      }
      link.textContent = t("reconnecting");
      setTimeout(listen, 3000);
    });
  }

  applyFilter();
  if ("WebSocket" in window) listen();
})();
