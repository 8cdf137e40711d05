// The candidate's exam page (exams/attempt_views.py). No framework, one small script, for slow links.
//
// - The clock is the server's: every state read and every save brings `seconds_left`; the page counts down from
//   it, corrected for half the round trip. At zero it asks the server, which submits the paper (exactly once).
// - Every answer gets the next sequence number and goes into a queue kept in localStorage (a reload or a closed
//   tab keeps it); the queue is sent in order, one request at a time, and an entry leaves it only once the server
//   acknowledged it. The server ignores an entry it already holds (same or newer sequence), so sending twice is
//   harmless. While the link is down the queue waits and the indicator says how many answers wait.
// - A websocket tells the page at once when its paper changed (paused, resumed, extra time, submitted): the page
//   re-reads its state. It also tells the invigilators' console that the page is here (heartbeats).
(() => {
  "use strict";
  const root = document.getElementById("exam");
  if (!root) return;
  const config = JSON.parse(document.getElementById("exam-config").textContent);
  let state = JSON.parse(document.getElementById("exam-state").textContent);
  const text = document.getElementById("exam-i18n").dataset;
  const form = document.getElementById("exam-form");
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const timeLeft = document.getElementById("exam-time-left");
  const status = document.getElementById("exam-save-status");
  const pausedBanner = document.getElementById("exam-paused");
  const errorBanner = document.getElementById("exam-error");
  const queueKey = `corridor-exam-queue-${config.paper}`;
  const seqKey = `corridor-exam-seq-${config.paper}`;

  const format = (template, values) => template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name]));
  const pad = (n) => String(n).padStart(2, "0");
  const clockTime = (iso) => {
    const d = new Date(iso);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };

  // The queue ---------------------------------------------------------------------------------------------------
  const load = (key, fallback) => {
    try {
      const value = JSON.parse(localStorage.getItem(key));
      return value === null ? fallback : value;
    } catch (error) {
      return fallback;
    }
  };
  let queue = load(queueKey, []);
  let seq = Math.max(Number(load(seqKey, 0)) || 0, state.last_seq || 0, ...queue.map((entry) => entry.seq));
  const store = () => {
    try {
      localStorage.setItem(queueKey, JSON.stringify(queue));
      localStorage.setItem(seqKey, JSON.stringify(seq));
    } catch (error) {
      /* storage full or refused: the queue still lives in this page */
    }
  };
  let sending = false;
  let offline = false;
  let retryTimer = null;
  let retryDelay = 1000;
  let lastSavedAt = state.last_saved_at;
  let locked = false;

  // The clock ---------------------------------------------------------------------------------------------------
  let secondsAtAnchor = state.seconds_left;
  let anchor = performance.now();
  let askedAtZero = 0;
  const setClock = (seconds, roundTripMs) => {
    secondsAtAnchor = Math.max(0, seconds - (roundTripMs || 0) / 2000);
    anchor = performance.now();
  };
  const secondsLeft = () =>
    state.paused ? secondsAtAnchor : Math.max(0, secondsAtAnchor - (performance.now() - anchor) / 1000);
  const showClock = () => {
    const left = Math.ceil(secondsLeft());
    const h = Math.floor(left / 3600);
    const m = Math.floor((left % 3600) / 60);
    const s = left % 60;
    timeLeft.textContent = h ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
    timeLeft.classList.toggle("ending", left <= 60);
    if (left <= 0 && !state.paused && !state.submitted_at) {
      status.textContent = text.timeUp;
      lock(true);
      if (performance.now() - askedAtZero > 2000) {
        askedAtZero = performance.now();
        refresh();
      }
    }
  };

  // The indicator and the navigator -----------------------------------------------------------------------------
  const showStatus = () => {
    if (queue.length && offline) {
      status.textContent = format(text.offline, { count: queue.length });
      status.className = "exam-save-status offline";
    } else if (queue.length) {
      status.textContent = sending ? text.saving : format(text.unsent, { count: queue.length });
      status.className = "exam-save-status saving";
    } else {
      status.textContent = lastSavedAt ? format(text.saved, { time: clockTime(lastSavedAt) }) : text.nothingSaved;
      status.className = "exam-save-status saved";
    }
  };
  const fieldsets = () => Array.from(form.querySelectorAll("fieldset[data-question]"));
  const isAnswered = (fieldset) =>
    fieldset.dataset.kind === "choice"
      ? fieldset.querySelectorAll("input:checked").length > 0
      : fieldset.querySelector("textarea").value.trim() !== "";
  const showNavigator = () => {
    let unanswered = 0;
    for (const fieldset of fieldsets()) {
      const answered = isAnswered(fieldset);
      if (!answered) unanswered += 1;
      const link = root.querySelector(`[data-nav="${fieldset.dataset.question}"]`);
      link.className = answered ? "answered" : "unanswered";
      link.querySelector(".nav-state").textContent = ` ${answered ? text.answered : text.notAnswered}`;
    }
    document.getElementById("exam-unanswered").textContent = format(text.unanswered, {
      count: unanswered,
      total: fieldsets().length,
    });
  };

  // Answers in and out of the form ------------------------------------------------------------------------------
  const answerOf = (fieldset) => {
    const question = Number(fieldset.dataset.question);
    if (fieldset.dataset.kind === "choice") {
      const choices = Array.from(fieldset.querySelectorAll("input:checked")).map((input) => input.value);
      return { question, choices, text: "" };
    }
    return { question, choices: [], text: fieldset.querySelector("textarea").value };
  };
  const fill = (fieldset, answer) => {
    if (fieldset.dataset.kind === "choice") {
      for (const input of fieldset.querySelectorAll("input")) input.checked = answer.choices.includes(input.value);
    } else {
      fieldset.querySelector("textarea").value = answer.text;
    }
  };
  const fillAll = () => {
    const newest = {};
    for (const [question, answer] of Object.entries(state.answers)) newest[question] = answer;
    for (const entry of queue) {
      if (!newest[entry.question] || entry.seq > newest[entry.question].seq) newest[entry.question] = entry;
    }
    for (const fieldset of fieldsets()) {
      const answer = newest[fieldset.dataset.question];
      if (answer) fill(fieldset, answer);
    }
  };
  const lock = (on) => {
    locked = on;
    for (const input of form.querySelectorAll("input, textarea")) input.disabled = on;
    document.getElementById("exam-submit").disabled = on;
  };

  const enqueue = (fieldset) => {
    if (locked) return;
    seq += 1;
    queue.push({ ...answerOf(fieldset), seq });
    store();
    showNavigator();
    flush();
  };

  // Sending -----------------------------------------------------------------------------------------------------
  const retryLater = () => {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(flush, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 8000);
  };
  const showError = (message) => {
    errorBanner.textContent = message || "";
    errorBanner.hidden = !message;
  };
  async function flush() {
    if (sending || !queue.length || state.submitted_at) {
      showStatus();
      return;
    }
    sending = true;
    showStatus();
    const batch = queue.slice(0, 50);
    const sentAt = performance.now();
    let response = null;
    let reply = {};
    try {
      response = await fetch(root.dataset.saveUrl, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf },
        credentials: "same-origin",
        body: JSON.stringify({ answers: batch }),
      });
      reply = await response.json().catch(() => ({}));
    } catch (error) {
      response = null;
    }
    sending = false;
    if (response && response.ok) {
      queue = queue.slice(batch.length);
      store();
      offline = false;
      retryDelay = 1000;
      lastSavedAt = reply.last_saved_at || lastSavedAt;
      setClock(reply.seconds_left, performance.now() - sentAt);
      showError("");
      showStatus();
      if (queue.length) flush();
      return;
    }
    if (!response || response.status >= 500 || response.status === 429) {
      offline = true; // the link or the server is away: the queue waits and is sent again
      showStatus();
      retryLater();
      return;
    }
    const error = reply.error || {};
    if (["submitted", "time_up", "paused", "not_started"].includes(error.code)) {
      showStatus();
      refresh();
      return;
    }
    // A save the server refuses as it stands (it never will accept it): dropped, and the person is told.
    queue = queue.slice(batch.length);
    store();
    showError(error.message || "");
    showStatus();
  }

  // The server's state ------------------------------------------------------------------------------------------
  const apply = (next) => {
    state = next;
    if (state.submitted_at) {
      queue = [];
      store();
      window.location.reload(); // the server renders the "submitted at" page
      return;
    }
    lastSavedAt = state.last_saved_at || lastSavedAt;
    seq = Math.max(seq, state.last_seq || 0);
    pausedBanner.hidden = !state.paused;
    lock(Boolean(state.paused) || state.seconds_left <= 0);
    showStatus();
  };
  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    refreshing = true;
    const sentAt = performance.now();
    try {
      const response = await fetch(root.dataset.stateUrl, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.ok) {
        const next = await response.json();
        setClock(next.seconds_left, performance.now() - sentAt);
        apply(next);
        offline = false;
        if (!next.paused) flush();
      }
    } catch (error) {
      offline = true;
      showStatus();
    } finally {
      refreshing = false;
    }
  }

  // The socket: pushes and presence -----------------------------------------------------------------------------
  let socket = null;
  let heartbeat = null;
  const connect = () => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}${root.dataset.socketPath}`);
    socket.addEventListener("open", () => {
      clearInterval(heartbeat);
      heartbeat = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "heartbeat" }));
      }, config.heartbeat_seconds * 1000);
      refresh(); // anything missed while the socket was away
    });
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "changed") refresh();
    });
    socket.addEventListener("close", (event) => {
      clearInterval(heartbeat);
      if (window.corridor && window.corridor.isRefusal(event.code)) return;
      setTimeout(connect, 3000);
    });
  };

  // Wiring ------------------------------------------------------------------------------------------------------
  const typing = new Map();
  form.addEventListener("change", (event) => {
    const fieldset = event.target.closest("fieldset[data-question]");
    if (!fieldset) return;
    clearTimeout(typing.get(fieldset));
    typing.delete(fieldset);
    enqueue(fieldset);
  });
  form.addEventListener("input", (event) => {
    const fieldset = event.target.closest("fieldset[data-question]");
    if (!fieldset || fieldset.dataset.kind === "choice") return;
    showNavigator();
    if (!typing.has(fieldset)) {
      // Saved again every few seconds while typing (and at once when the field is left: `change`).
      typing.set(
        fieldset,
        setTimeout(() => {
          typing.delete(fieldset);
          enqueue(fieldset);
        }, config.typing_save_seconds * 1000),
      );
    }
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  window.addEventListener("online", () => {
    retryDelay = 1000;
    flush();
  });

  const confirmBox = document.getElementById("exam-confirm");
  document.getElementById("exam-submit").addEventListener("click", () => {
    confirmBox.hidden = false;
    document.getElementById("exam-confirm-no").focus();
  });
  document.getElementById("exam-confirm-no").addEventListener("click", () => {
    confirmBox.hidden = true;
    document.getElementById("exam-submit").focus();
  });
  document.getElementById("exam-confirm-yes").addEventListener("click", async () => {
    for (const [fieldset, timer] of typing) {
      clearTimeout(timer);
      enqueue(fieldset);
    }
    typing.clear();
    // Send what waits first (a few tries), then submit.
    for (let tries = 0; queue.length && tries < 20; tries += 1) {
      await flush();
      if (queue.length) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    try {
      const response = await fetch(root.dataset.submitUrl, {
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": csrf },
        credentials: "same-origin",
      });
      const reply = await response.json().catch(() => ({}));
      if (response.ok || (reply.error && reply.error.code === "already_submitted")) {
        queue = [];
        store();
        window.location.reload();
      } else {
        showError((reply.error && reply.error.message) || "");
      }
    } catch (error) {
      offline = true;
      showStatus();
    }
  });

  fillAll();
  apply(state);
  showNavigator();
  showClock();
  setInterval(showClock, 250);
  connect();
  flush();
})();
