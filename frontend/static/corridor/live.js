// The live session page: one socket to /ws/sessions/<id>/ (docs/live-protocol.md) drives the Q&A,
// polls, raised hands and, for moderators, who is here. The words come translated from the page
// (corridor/i18n.js); text people wrote is only ever set with textContent, never as HTML.
(() => {
  "use strict";

  const root = document.querySelector("[data-live-session]");
  const configElement = document.getElementById("live-config");
  if (!root || !configElement) return;
  const config = JSON.parse(configElement.textContent);
  const { t, has, isRefusal } = window.corridor;
  const clock = new Intl.DateTimeFormat(config.language, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: config.timeZone,
  });

  const MAX_BACKOFF_SECONDS = 30;
  // Events whose effect a welcome snapshot already contains (up to its last_event_id).
  const IN_SNAPSHOT = new Set([
    "question.created",
    "question.updated",
    "questions.voted",
    "poll.updated",
    "hands.updated",
    "hand.lowered",
    "session.state",
    "session.recording",
  ]);

  // Words and small DOM helpers ----------------------------------------------------------------

  // A word for `key` if the page has one.
  function word(key) {
    return has(key) ? t(key) : undefined;
  }

  function el(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function button(label, className = "") {
    const element = el("button", `button small ${className}`.trim(), label);
    element.type = "button";
    return element;
  }

  function find(selector) {
    return root.querySelector(selector);
  }

  function time(iso) {
    const moment = new Date(iso);
    return Number.isNaN(moment.getTime()) ? "" : clock.format(moment);
  }

  function timeElement(iso) {
    const element = el("time", "", time(iso));
    element.dateTime = iso;
    return element;
  }

  // What an error frame means, in the page's language: by its code, else the server's words.
  function errorText(frame) {
    return (frame && word(`errors.${frame.code}`)) || (frame && frame.message) || t("unknownError");
  }

  function showError(element, message) {
    if (!element) return;
    element.textContent = message || t("unknownError");
    element.hidden = false;
  }

  function clearError(element) {
    if (!element) return;
    element.textContent = "";
    element.hidden = true;
  }

  function characters(text) {
    return [...text.trim()].length; // code points, as the server counts them
  }

  // Keep keyboard focus where it was when a list is re-ordered or a block is redrawn.
  function keepingFocus(container, redraw) {
    const active = document.activeElement;
    const key = active && container.contains(active) ? active.dataset.focusKey : undefined;
    redraw();
    if (!active || active === document.activeElement) return;
    if (container.contains(active) && active.isConnected) {
      active.focus({ preventScroll: true });
    } else if (key) {
      const again = container.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
      if (again) again.focus({ preventScroll: true });
    }
  }

  // State -------------------------------------------------------------------------------------------

  const state = {
    ready: false, // a welcome arrived on the open socket
    welcomed: false, // any welcome ever: the next one is a reconnect
    you: { user_id: config.userId, role: config.role, moderator: config.moderator },
    session: null,
    questions: new Map(),
    myVotes: new Set(),
    polls: new Map(),
    myPollVotes: loadPollVotes(),
    hands: [],
    handRaised: false,
    loweringOwnHand: false,
    attendance: config.attendance,
    attendanceEventId: 0,
    lastEventId: 0, // the newest event applied (or contained in a snapshot): what `sync` resumes after
    snapshotEventId: 0,
    seen: new Set(),
  };

  // Which choice this person picked in each poll: the welcome does not say, so the browser remembers.
  function pollVotesKey() {
    return `corridor.live.${config.sessionId}.${config.userId}.pollVotes`;
  }

  function loadPollVotes() {
    try {
      return new Map(JSON.parse(window.localStorage.getItem(pollVotesKey()) || "[]"));
    } catch {
      return new Map();
    }
  }

  function savePollVotes() {
    try {
      window.localStorage.setItem(pollVotesKey(), JSON.stringify([...state.myPollVotes]));
    } catch {
      // Private mode or storage full: the server still refuses a second vote.
    }
  }

  // The socket --------------------------------------------------------------------------------------

  let socket = null;
  let heartbeatTimer = null;
  let retryTimer = null;
  let countdownTimer = null;
  let attempt = 0;
  let lastError = null; // { frame, at }: the server says why just before it closes
  let refused = false;
  let nextRef = 1;
  const pending = new Map();

  function socketUrl() {
    const url = new URL(config.socketUrl, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(countdownTimer);
    clearInterval(heartbeatTimer);
    if (refused) return;
    if (socket) socket.close(1000);
    setConnection("connecting");
    lastError = null;
    const ws = new WebSocket(socketUrl());
    socket = ws;
    ws.addEventListener("open", () => {
      if (ws !== socket) return;
      heartbeatTimer = setInterval(() => send({ type: "heartbeat" }), config.heartbeatSeconds * 1000);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== socket) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      handleFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== socket) return;
      onClose(event);
    });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  // Send a message and wait for its reply: resolves with the ack, rejects with the error frame.
  function request(message) {
    return new Promise((resolve, reject) => {
      if (!socket || socket.readyState !== WebSocket.OPEN || !state.ready) {
        reject({ code: "not_connected", message: t("notConnected") });
        return;
      }
      const ref = nextRef++;
      pending.set(ref, { resolve, reject });
      socket.send(JSON.stringify({ ...message, ref }));
    });
  }

  function onClose(event) {
    const refusedOnConnect = !state.ready; // closed before its welcome
    clearInterval(heartbeatTimer);
    socket = null;
    state.ready = false;
    for (const waiting of pending.values()) waiting.reject({ code: "not_connected", message: t("notConnected") });
    pending.clear();
    // Closed for good (not signed in, not a participant, no such session, signed out or role lost):
    // show the server's reason and stay closed.
    if (isRefusal(event.code)) {
      refused = true;
      const explained = lastError && Date.now() - lastError.at < 3000 ? lastError.frame : null;
      const code = explained ? explained.code : event.reason;
      const reason = (refusedOnConnect && word(`refusals.${code}`)) || word(`errors.${code}`);
      const fallback = (explained && explained.message) || event.reason;
      setConnection("closed", { reason: reason || fallback, code: event.code });
      return;
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (!navigator.onLine) {
      setConnection("offline");
      return; // the "online" event reconnects
    }
    const base = Math.min(MAX_BACKOFF_SECONDS, 2 ** attempt);
    attempt += 1;
    let left = Math.max(1, Math.round(base * (0.75 + Math.random() * 0.5)));
    setConnection("reconnecting", { seconds: left });
    countdownTimer = setInterval(() => {
      left -= 1;
      if (left > 0) setCountdown(left);
    }, 1000);
    retryTimer = setTimeout(connect, left * 1000);
  }

  function reconnectSoon() {
    if (!socket && !refused) connect();
  }

  window.addEventListener("online", reconnectSoon);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectSoon();
  });
  window.addEventListener("pagehide", () => {
    if (socket) {
      const closing = socket;
      socket = null;
      clearInterval(heartbeatTimer);
      closing.close(1000);
    }
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) reconnectSoon();
  });
  find("[data-reconnect-now]").addEventListener("click", () => {
    attempt = 0;
    connect();
  });

  function handleFrame(frame) {
    if (frame.type === "error") lastError = { frame, at: Date.now() };
    if (frame.ref !== undefined && pending.has(frame.ref)) {
      const waiting = pending.get(frame.ref);
      pending.delete(frame.ref);
      if (frame.type === "error") waiting.reject(frame);
      else waiting.resolve(frame);
    }
    switch (frame.type) {
      case "welcome":
        applyWelcome(frame.data, frame.ref !== undefined);
        break;
      case "synced":
        frame.events.forEach(applyEvent);
        break;
      case "ack":
      case "pong":
      case "error":
        break;
      case "alert.raised": // operators' alerts (alerts.js draws the banner)
      case "alert.cleared":
        window.corridorAlerts?.apply(frame);
        break;
      default:
        if (typeof frame.event_id === "number") applyEvent(frame);
    }
  }

  // A welcome is the whole state: on joining, on every reconnect, and in reply to a `sync` that was
  // too far behind. After a reconnect, `sync` also fetches what happened since the last event seen
  // (attendance is not in the snapshot).
  function applyWelcome(data, inReplyToSync) {
    const reconnected = state.welcomed;
    const resumeAfter = state.lastEventId;
    const wasModerator = state.you.moderator;
    state.welcomed = true;
    state.ready = true;
    attempt = 0;
    lastError = null;
    state.you = data.you;
    state.session = data.session;
    state.questions = new Map(
      data.questions.filter((q) => state.you.moderator || !q.hidden).map((q) => [q.id, q]),
    );
    state.myVotes = new Set(data.my_votes);
    state.polls = new Map(data.polls.map((poll) => [poll.id, poll]));
    state.hands = data.hands || [];
    state.handRaised = Boolean(data.my_hand_raised);
    state.snapshotEventId = data.last_event_id;
    state.lastEventId = Math.max(state.lastEventId, data.last_event_id);
    if (wasModerator !== state.you.moderator) {
      questionNodes.forEach((node) => node.li.remove());
      questionNodes.clear();
    }
    setConnection("live");
    renderAll();
    if (reconnected && !inReplyToSync && resumeAfter > 0) {
      request({ type: "sync", after: resumeAfter }).catch(() => {});
    }
  }

  function applyEvent(frame) {
    const id = frame.event_id;
    if (state.seen.has(id)) return;
    if (IN_SNAPSHOT.has(frame.type) && id <= state.snapshotEventId) return;
    state.seen.add(id);
    if (state.seen.size > 5000) state.seen.delete(state.seen.values().next().value);
    state.lastEventId = Math.max(state.lastEventId, id);
    const data = frame.data;
    switch (frame.type) {
      case "question.created":
      case "question.updated":
        if (!state.you.moderator && data.hidden) state.questions.delete(data.id);
        else state.questions.set(data.id, data);
        renderQuestions();
        break;
      case "questions.voted": {
        let changed = false;
        data.counts.forEach(({ id: questionId, votes }) => {
          const question = state.questions.get(questionId);
          if (question) {
            question.votes = votes;
            changed = true;
          }
        });
        if (changed) renderQuestions();
        break;
      }
      case "poll.updated":
        state.polls.set(data.id, data);
        renderPolls();
        break;
      case "hands.updated":
        state.hands = data.queue || [];
        renderHands();
        break;
      case "hand.lowered":
        if (state.handRaised) {
          state.handRaised = false;
          renderHand(state.loweringOwnHand ? "" : t("handLoweredByInstructor"));
        }
        break;
      case "attendance.updated":
        if (id > state.attendanceEventId) {
          state.attendanceEventId = id;
          state.attendance = data;
          renderAttendance();
        }
        break;
      case "session.state":
        if (state.session) state.session.state = data.state;
        renderSessionState();
        renderRecording(true); // an ended session is recorded no more
        break;
      case "session.recording":
        if (state.session) state.session.recorded = data.recorded;
        renderRecording(true);
        consentFollowsRecording(data.recorded === true);
        break;
      default:
        break; // kinds this page does not show (presence.changed)
    }
  }

  // Connection state -------------------------------------------------------------------------------

  const connection = find("[data-connection]");
  const connectionText = find("[data-connection-text]");
  const reconnectButton = find("[data-reconnect-now]");

  let connectionKind = "connecting";

  function setConnection(kind, values = {}) {
    if (kind === "live" && state.session && state.session.state === "ended") kind = "ended";
    connectionKind = kind;
    connection.dataset.state = kind;
    reconnectButton.hidden = !(kind === "reconnecting" || kind === "offline");
    connectionText.replaceChildren();
    if (kind === "reconnecting") {
      // The seconds tick in their own element, which screen readers are not told about each second.
      const [before, after = ""] = t("reconnecting").split("{seconds}");
      const seconds = el("span", "countdown", String(values.seconds));
      seconds.setAttribute("aria-live", "off");
      seconds.dataset.countdown = "";
      connectionText.append(before, seconds, after);
    } else if (kind === "closed") {
      const key = values.reason ? "closed" : "closedNoReason";
      connectionText.textContent = t(key, values);
    } else {
      connectionText.textContent = t(kind);
    }
    setFormsEnabled(kind === "live" || kind === "ended");
  }

  function setCountdown(seconds) {
    const counter = connectionText.querySelector("[data-countdown]");
    if (counter) counter.textContent = String(seconds);
  }

  function setFormsEnabled(enabled) {
    root.classList.toggle("is-offline", !enabled);
  }

  // Session state ---------------------------------------------------------------------------------

  const stateTag = find("[data-session-state]");
  const notice = find("[data-session-notice]");

  function renderSessionState() {
    const sessionState = state.session ? state.session.state : "";
    const labels = { scheduled: "stateScheduled", live: "stateLive", ended: "stateEnded" };
    if (labels[sessionState]) {
      stateTag.textContent = t(labels[sessionState]);
      stateTag.className = `tag session-state ${sessionState}`;
    }
    const ended = sessionState === "ended";
    root.classList.toggle("is-ended", ended);
    if (ended && connectionKind === "live") setConnection("ended");
    askSubmit.disabled = ended;
    askText.disabled = ended;
    const message = ended ? t("sessionEnded") : sessionState === "scheduled" ? t("sessionScheduled") : "";
    notice.textContent = message;
    notice.hidden = !message;
    renderLifecycle(sessionState);
  }

  // Start, End and the lobby ---------------------------------------------------------------------------
  // Trainees wait in the lobby (a countdown to the scheduled start) and are let in when `session.state` says
  // live; moderators Start (from 15 minutes before) and End (after a confirmation) by posting to the page's
  // state URL. media.js opens the video only while live: it hears `corridor:session-state` on the document.

  const lobby = root.querySelector("[data-lobby]");
  const lobbyCountdown = root.querySelector("[data-lobby-countdown]");
  const grid = root.querySelector("[data-live-grid]");
  const startForm = root.querySelector("[data-session-start-form]");
  const startButton = root.querySelector("[data-session-start]");
  const startHint = root.querySelector("[data-session-start-hint]");
  const endForm = root.querySelector("[data-session-end-form]");
  const endButton = root.querySelector("[data-session-end]");
  const endDialog = root.querySelector("[data-session-end-dialog]");
  const controlError = root.querySelector("[data-session-control-error]");
  const controlStatus = root.querySelector("[data-session-control-status]");
  const startsAt = Date.parse(config.startsAt);
  const startOpensAt = Date.parse(config.startOpensAt);
  let announcedState = "";
  let changing = false;

  function renderLifecycle(sessionState) {
    if (!sessionState) return;
    root.dataset.liveState = sessionState;
    stateTag.dataset.sessionState = sessionState;
    const waiting = sessionState === "scheduled" && !state.you.moderator && config.trainee;
    if (lobby) lobby.hidden = !waiting;
    if (grid) grid.hidden = waiting;
    if (waiting) notice.hidden = true; // the lobby says it all
    if (startForm) startForm.hidden = sessionState !== "scheduled";
    if (endForm) endForm.hidden = sessionState === "ended";
    if (sessionState === "ended" && endDialog && endDialog.open) endDialog.close("cancel");
    tickLifecycle();
    if (announcedState !== sessionState) {
      announcedState = sessionState;
      document.dispatchEvent(new CustomEvent("corridor:session-state", { detail: { state: sessionState } }));
    }
  }

  function countdownText(milliseconds) {
    const total = Math.ceil(milliseconds / 1000);
    const days = Math.floor(total / 86400);
    const hours = Math.floor((total % 86400) / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = total % 60;
    if (days > 0) return t("lobbyDays", { days, hours });
    const pad = (n) => String(n).padStart(2, "0");
    return hours > 0 ? `${hours}:${pad(minutes)}:${pad(seconds)}` : `${pad(minutes)}:${pad(seconds)}`;
  }

  // Once a second: the lobby's countdown, and whether Start may be pressed yet.
  function tickLifecycle() {
    const sessionState = root.dataset.liveState;
    const now = Date.now();
    if (lobby && !lobby.hidden && lobbyCountdown) {
      const left = startsAt - now;
      lobbyCountdown.textContent = left > 0 ? t("lobbyStartsIn", { time: countdownText(left) }) : t("lobbyAnyMoment");
      lobbyCountdown.dataset.secondsLeft = String(Math.max(0, Math.ceil(left / 1000)));
    }
    if (startButton && sessionState === "scheduled") {
      const open = now >= startOpensAt;
      startButton.disabled = !open || changing;
      if (startHint) {
        startHint.textContent = open ? t("startReady") : t("startOpensAt", { time: time(config.startOpensAt) });
      }
    }
  }
  setInterval(tickLifecycle, 1000);

  // Post Start or End; the `session.state` broadcast then reaches every open page, this one included.
  async function changeState(form, wanted) {
    if (changing) return;
    changing = true;
    clearError(controlError);
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    if (controlStatus) controlStatus.textContent = t(wanted === "live" ? "starting" : "ending");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        const error = answer.error || {};
        showError(controlError, error.message || word(`errors.${error.code}`) || t("unknownError"));
      } else if (state.session && answer.state) {
        state.session.state = answer.state;
        renderSessionState();
      }
    } catch (error) {
      showError(controlError, t("notConnected"));
    } finally {
      if (controlStatus) controlStatus.textContent = "";
      changing = false;
      buttons.forEach((b) => (b.disabled = false));
      tickLifecycle();
    }
    return wanted;
  }

  if (startForm) {
    startForm.addEventListener("submit", (event) => {
      event.preventDefault();
      changeState(startForm, "live");
    });
  }
  if (endButton && endDialog) {
    endButton.addEventListener("click", () => {
      clearError(controlError);
      endDialog.showModal(); // Escape closes it (cancel); focus starts on "Keep it running"
    });
    endDialog.addEventListener("close", () => {
      if (endDialog.returnValue === "confirm") changeState(endForm, "ended");
      endDialog.returnValue = "";
      endButton.focus();
    });
  }

  // Recording ---------------------------------------------------------------------------------------
  // The root's data-recording ("on" / "off") is the page's one truth for other scripts: the indicator, the
  // moderators' toggle (aria-pressed) and it follow the welcome and every "session.recording" event.

  const recordingIndicator = find("[data-recording-indicator]");
  const recordingAnnounce = find("[data-recording-announce]");
  const recordingToggle = find("[data-recording-toggle]");
  const recordingError = find("[data-recording-error]");

  function recordingOn() {
    return Boolean(state.session && state.session.recorded && state.session.state !== "ended");
  }

  function renderRecording(announce) {
    if (!state.session) return;
    const on = recordingOn();
    const changed = (root.dataset.recording === "on") !== on;
    root.dataset.recording = on ? "on" : "off";
    if (recordingIndicator) recordingIndicator.hidden = !on;
    if (recordingToggle) {
      recordingToggle.setAttribute("aria-pressed", String(on));
      recordingToggle.disabled = state.session.state === "ended";
    }
    if (announce && changed && recordingAnnounce) {
      recordingAnnounce.textContent = t(on ? "recordingStarted" : "recordingStopped");
    }
  }

  if (recordingToggle) {
    recordingToggle.addEventListener("click", () => {
      clearError(recordingError);
      recordingToggle.disabled = true;
      request({ type: "session.recording", recorded: !recordingOn() })
        .then((ack) => {
          if (state.session) state.session.recorded = ack.recorded;
        })
        .catch((frame) => showError(recordingError, errorText(frame)))
        .finally(() => renderRecording(true));
    });
  }

  // Recording consent: a trainee opening a recorded session answers "I agree to be recorded" or "Not now" first (the
  // video, media.js, waits for this promise); either answer is kept with their attendance (POST consentUrl), and
  // "Not now" lets them follow the class without speaking. Switched on while they are here, recording asks again.
  const consentDialog = document.querySelector("[data-recording-notice]");
  const consentForm = consentDialog && consentDialog.querySelector("[data-recording-consent-form]");
  const consentError = consentDialog && consentDialog.querySelector("[data-recording-consent-error]");
  let consentAnswered = null;
  window.corridorRecordingNotice = new Promise((resolve) => {
    consentAnswered = resolve;
  });

  function askConsent() {
    if (!consentDialog || consentDialog.open) return;
    if (typeof consentDialog.showModal === "function") consentDialog.showModal();
    else consentDialog.setAttribute("open", "");
    const agree = consentDialog.querySelector("[data-recording-consent-agree]");
    if (agree) agree.focus();
  }

  const consentReminder = find("[data-consent-reminder]");

  function renderConsentReminder() {
    // Beside "Raise hand": a trainee who has not agreed, in a recorded session, may agree at any time.
    if (!consentReminder || !consentDialog) return;
    consentReminder.hidden = !(recordingOn() && consentDialog.dataset.recordingConsent !== "agreed");
  }

  function consentFollowsRecording(cameOn) {
    // A trainee who has not agreed is asked when recording comes on, and after a (re)connect only if they have
    // never answered: "Not now" is not asked again on every reconnect (the reminder's button stays).
    renderConsentReminder();
    if (!consentDialog || !recordingOn()) return;
    const answer = consentDialog.dataset.recordingConsent || "";
    if (answer !== "agreed" && (cameOn || answer === "")) askConsent();
  }

  const consentOpen = find("[data-recording-consent-open]");
  if (consentOpen) consentOpen.addEventListener("click", askConsent);

  if (consentDialog && consentForm) {
    consentDialog.addEventListener("cancel", (event) => event.preventDefault()); // Esc is not an answer
    consentForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const answer = event.submitter && event.submitter.value === "agreed" ? "agreed" : "declined";
      const buttons = consentForm.querySelectorAll("button");
      buttons.forEach((b) => (b.disabled = true));
      clearError(consentError);
      const body = new FormData(consentForm);
      body.set("answer", answer);
      try {
        const response = await fetch(consentForm.action, {
          method: "POST",
          body,
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        const reply = await response.json().catch(() => ({}));
        if (!response.ok) {
          const error = reply.error || {};
          showError(consentError, error.message || t("unknownError"));
          return;
        }
        consentDialog.dataset.recordingConsent = reply.consent;
        root.dataset.recordingConsent = reply.consent;
        consentDialog.close();
        renderConsentReminder();
        if (recordingAnnounce) recordingAnnounce.textContent = reply.message || "";
        const notice = find("[data-session-notice]");
        if (notice) {
          notice.textContent = t(reply.consent === "agreed" ? "consentAgreed" : "consentDeclined");
          notice.hidden = false;
        }
        consentAnswered();
      } catch (error) {
        showError(consentError, t("notConnected"));
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    });
    root.dataset.recordingConsent = consentDialog.dataset.recordingConsent || "";
    if (consentDialog.hasAttribute("data-ask-now")) askConsent();
    else consentAnswered();
  } else {
    consentAnswered();
  }

  // Questions --------------------------------------------------------------------------------------

  const questionList = find("[data-questions]");
  const questionsEmpty = find("[data-questions-empty]");
  const questionCount = find("[data-question-count]");
  const questionNodes = new Map();

  function byPinsVotesAge(a, b) {
    return (
      Number(b.pinned) - Number(a.pinned) ||
      b.votes - a.votes ||
      Date.parse(a.created_at) - Date.parse(b.created_at) ||
      a.id - b.id
    );
  }

  function renderQuestions() {
    const questions = [...state.questions.values()].sort(byPinsVotesAge);
    const present = new Set(questions.map((q) => q.id));
    keepingFocus(questionList, () => {
      for (const [id, node] of questionNodes) {
        if (!present.has(id)) {
          node.li.remove();
          questionNodes.delete(id);
        }
      }
      let previous = null;
      for (const question of questions) {
        let node = questionNodes.get(question.id);
        if (!node) {
          node = buildQuestion(question.id);
          questionNodes.set(question.id, node);
        }
        updateQuestion(node, question);
        const expected = previous ? previous.nextSibling : questionList.firstChild;
        if (node.li !== expected) questionList.insertBefore(node.li, expected);
        previous = node.li;
      }
    });
    questionsEmpty.hidden = questions.length > 0;
    questionCount.textContent = String(questions.length);
  }

  function buildQuestion(id) {
    const moderator = state.you.moderator;
    const li = el("li", "question");
    li.dataset.questionId = String(id);
    const vote = button("", "vote");
    vote.dataset.focusKey = `vote-${id}`;
    const voteArrow = el("span", "vote-arrow", "▲");
    voteArrow.setAttribute("aria-hidden", "true");
    const voteLabel = el("span", "visually-hidden", t("upvote"));
    const voteCount = el("span", "vote-count");
    vote.append(voteArrow, voteLabel, voteCount);
    vote.addEventListener("click", () => toggleVote(id));

    const body = el("div", "question-body");
    const meta = el("p", "question-meta");
    const author = el("span", "question-author");
    const when = el("time", "question-time");
    const badges = el("span", "badges");
    meta.append(author, " · ", when, badges);
    const text = el("p", "question-text");
    text.lang = ""; // a question may be in either language
    const answer = el("div", "question-answer");
    const answerBy = el("p", "answer-by");
    const answerText = el("p", "answer-text");
    answer.append(answerBy, answerText);
    const error = el("p", "form-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    body.append(meta, text, answer);

    const node = { li, vote, voteCount, author, when, badges, text, answer, answerBy, answerText, error };
    if (moderator) {
      const tools = el("div", "question-tools");
      tools.setAttribute("role", "group");
      node.answerButton = button(t("answer"));
      node.pinButton = button(t("pin"));
      node.hideButton = button(t("hide"));
      node.markButton = button(t("markAnswered"));
      for (const [name, control] of [
        ["answer", node.answerButton],
        ["pin", node.pinButton],
        ["hide", node.hideButton],
        ["mark", node.markButton],
      ]) {
        control.dataset.focusKey = `${name}-${id}`;
        tools.append(control);
      }
      node.answerButton.addEventListener("click", () => openAnswerForm(node, id));
      node.pinButton.addEventListener("click", () => moderate(node, id, state.questions.get(id).pinned ? "unpin" : "pin"));
      node.hideButton.addEventListener("click", () =>
        moderate(node, id, state.questions.get(id).hidden ? "unhide" : "hide"),
      );
      node.markButton.addEventListener("click", () =>
        moderate(node, id, state.questions.get(id).answered ? "mark_unanswered" : "mark_answered"),
      );
      node.tools = tools;
      node.form = buildAnswerForm(node, id);
      body.append(tools, node.form);
    }
    body.append(error);
    li.append(vote, body);
    return node;
  }

  function updateQuestion(node, question) {
    const voted = state.myVotes.has(question.id);
    node.li.classList.toggle("pinned", question.pinned);
    node.li.classList.toggle("answered", question.answered);
    node.li.classList.toggle("is-hidden", question.hidden);
    node.li.classList.toggle("mine", question.author_id === state.you.user_id);
    node.vote.setAttribute("aria-pressed", String(voted));
    node.vote.title = voted ? t("takeBackVote") : t("upvote");
    node.vote.disabled = question.hidden;
    node.voteCount.textContent = String(question.votes);
    node.vote.setAttribute("aria-label", `${t("upvote")}: ${t("votes", { count: question.votes })}`);
    node.author.textContent = question.author;
    node.when.textContent = time(question.created_at);
    node.when.dateTime = question.created_at;
    node.badges.replaceChildren();
    if (question.pinned) node.badges.append(el("span", "tag pinned", t("pinned")));
    if (question.answered) node.badges.append(el("span", "tag done", t("answered")));
    if (question.hidden) node.badges.append(el("span", "tag muted-tag", t("hidden")));
    node.text.textContent = question.text;
    node.answer.hidden = !question.answer;
    node.answerBy.textContent = question.answered_by ? t("answerBy", { name: question.answered_by }) : t("answer");
    node.answerText.textContent = question.answer;
    if (node.tools) {
      node.tools.setAttribute("aria-label", t("moderationFor", { text: question.text.slice(0, 60) }));
      node.answerButton.textContent = question.answer ? t("editAnswer") : t("answer");
      node.pinButton.textContent = question.pinned ? t("unpin") : t("pin");
      node.hideButton.textContent = question.hidden ? t("unhide") : t("hide");
      node.markButton.textContent = question.answered ? t("markUnanswered") : t("markAnswered");
    }
  }

  function buildAnswerForm(node, id) {
    const form = el("form", "answer-form");
    form.hidden = true;
    form.noValidate = true;
    const fieldId = `answer-${id}`;
    const label = el("label", "", t("yourAnswer"));
    label.htmlFor = fieldId;
    const textarea = el("textarea");
    textarea.id = fieldId;
    textarea.rows = 3;
    textarea.maxLength = config.answerMaxLength;
    const row = el("div", "form-row");
    const sendButton = el("button", "button small primary", t("sendAnswer"));
    sendButton.type = "submit";
    const cancel = button(t("cancel"));
    const error = el("p", "form-error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    row.append(sendButton, cancel);
    form.append(label, textarea, row, error);
    const close = () => {
      form.hidden = true;
      clearError(error);
      node.answerButton.focus();
    };
    cancel.addEventListener("click", close);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = textarea.value.trim();
      if (!text) {
        showError(error, t("writeSomething"));
        return;
      }
      sendButton.disabled = true;
      request({ type: "question.answer", question_id: id, text })
        .then(() => {
          textarea.value = "";
          close();
        })
        .catch((frame) => showError(error, errorText(frame)))
        .finally(() => {
          sendButton.disabled = false;
        });
    });
    node.answerField = textarea;
    node.answerError = error;
    return form;
  }

  function openAnswerForm(node, id) {
    const question = state.questions.get(id);
    node.form.hidden = false;
    if (!node.answerField.value && question && question.answer) node.answerField.value = question.answer;
    clearError(node.answerError);
    node.answerField.focus();
  }

  function moderate(node, id, action) {
    clearError(node.error);
    request({ type: "question.moderate", question_id: id, action }).catch((frame) =>
      showError(node.error, errorText(frame)),
    );
  }

  function toggleVote(id) {
    const node = questionNodes.get(id);
    clearError(node && node.error);
    const up = !state.myVotes.has(id);
    request({ type: "question.vote", question_id: id, up })
      .then((ack) => {
        if (up) state.myVotes.add(id);
        else state.myVotes.delete(id);
        const question = state.questions.get(id);
        if (question && typeof ack.votes === "number") question.votes = ack.votes;
        renderQuestions();
      })
      .catch((frame) => showError(questionNodes.get(id) && questionNodes.get(id).error, errorText(frame)));
  }

  // Asking --------------------------------------------------------------------------------------------

  const askForm = find("[data-ask-form]");
  const askText = find("[data-ask-text]");
  const askCounter = find("[data-ask-counter]");
  const askSubmit = find("[data-ask-submit]");
  const askError = find("[data-ask-error]");
  const askOk = find("[data-ask-ok]");
  let askOkTimer = null;

  function updateCounter() {
    const count = characters(askText.value);
    askCounter.textContent = t("charactersLeft", { count, limit: config.questionMaxLength });
    const over = count > config.questionMaxLength;
    askCounter.classList.toggle("over", over);
    askText.setAttribute("aria-invalid", String(over));
  }

  askText.addEventListener("input", () => {
    updateCounter();
    if (!askError.hidden && characters(askText.value) <= config.questionMaxLength) clearError(askError);
  });
  askText.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
      event.preventDefault();
      askForm.requestSubmit();
    }
  });
  askForm.addEventListener("submit", (event) => {
    event.preventDefault();
    clearError(askError);
    askOk.textContent = "";
    const text = askText.value.trim();
    if (!text) {
      showError(askError, t("writeSomething"));
      askText.focus();
      return;
    }
    if (characters(text) > config.questionMaxLength) {
      showError(askError, t("tooLong", { limit: config.questionMaxLength }));
      askText.focus();
      return;
    }
    askSubmit.disabled = true;
    request({ type: "question.ask", text })
      .then(() => {
        askText.value = "";
        updateCounter();
        askOk.textContent = t("asked");
        clearTimeout(askOkTimer);
        askOkTimer = setTimeout(() => {
          askOk.textContent = "";
        }, 4000);
      })
      .catch((frame) => showError(askError, errorText(frame)))
      .finally(() => {
        askSubmit.disabled = Boolean(state.session && state.session.state === "ended");
      });
  });

  // Polls ---------------------------------------------------------------------------------------------

  const pollList = find("[data-polls]");
  const pollsEmpty = find("[data-polls-empty]");
  const pollsError = find("[data-polls-error]");

  function renderPolls() {
    const polls = [...state.polls.values()].sort((a, b) => Number(b.is_open) - Number(a.is_open) || b.id - a.id);
    keepingFocus(pollList, () => {
      pollList.replaceChildren(...polls.map(buildPoll));
    });
    pollsEmpty.hidden = polls.length > 0;
  }

  function buildPoll(poll) {
    const li = el("li", poll.is_open ? "poll" : "poll closed");
    li.dataset.pollId = String(poll.id);
    const head = el("div", "poll-head");
    const prompt = el("h3", "poll-prompt", poll.prompt);
    prompt.id = `poll-${poll.id}-prompt`;
    head.append(prompt, el("span", poll.is_open ? "tag session-state live" : "tag", poll.is_open ? t("pollOpen") : t("pollClosed")));
    li.append(head);
    const error = el("p", "form-error");
    error.setAttribute("role", "alert");
    error.hidden = true;

    const mine = state.myPollVotes.get(poll.id);
    const canVote = poll.is_open && !state.you.moderator && mine === undefined;
    if (canVote) {
      const choices = el("div", "poll-vote");
      choices.setAttribute("role", "group");
      choices.setAttribute("aria-labelledby", prompt.id);
      for (const choice of poll.choices) {
        const choose = button(choice.text, "poll-choice");
        choose.setAttribute("aria-label", t("voteFor", { choice: choice.text }));
        choose.dataset.focusKey = `poll-${poll.id}-choice-${choice.id}`;
        choose.addEventListener("click", () => votePoll(poll.id, choice.id, error));
        choices.append(choose);
      }
      li.append(choices);
    }

    const results = el("ul", "poll-results");
    results.setAttribute("aria-labelledby", prompt.id);
    for (const choice of poll.choices) {
      const percent = poll.total ? Math.round((choice.votes * 100) / poll.total) : 0;
      const row = el("li", choice.id === mine ? "result mine" : "result");
      const label = el("span", "result-label", choice.text);
      const track = el("span", "bar-track");
      track.setAttribute("aria-hidden", "true");
      const bar = el("span", "bar");
      bar.style.width = `${percent}%`;
      track.append(bar);
      const numbers = el("span", "result-numbers", t("resultLine", { count: choice.votes, percent }));
      row.append(label, track, numbers);
      results.append(row);
    }
    li.append(results, el("p", "muted poll-total", t("totalVotes", { count: poll.total })));
    if (mine !== undefined) {
      const chosen = poll.choices.find((choice) => choice.id === mine);
      li.append(el("p", "poll-mine", chosen ? t("youVoted", { choice: chosen.text }) : t("youVotedUnknown")));
    }
    if (state.you.moderator && poll.is_open) {
      const close = button(t("closePoll"));
      close.dataset.focusKey = `poll-${poll.id}-close`;
      close.addEventListener("click", () => {
        clearError(error);
        request({ type: "poll.close", poll_id: poll.id }).catch((frame) => showError(error, errorText(frame)));
      });
      li.append(close);
    }
    li.append(error);
    return li;
  }

  function votePoll(pollId, choiceId, error) {
    clearError(error);
    request({ type: "poll.vote", poll_id: pollId, choice_id: choiceId })
      .then(() => {
        state.myPollVotes.set(pollId, choiceId);
        savePollVotes();
        renderPolls();
      })
      .catch((frame) => {
        if (frame.code === "already_voted") {
          state.myPollVotes.set(pollId, 0);
          savePollVotes();
          renderPolls();
          showError(pollsError, errorText(frame));
        } else {
          showError(error, errorText(frame));
        }
      });
  }

  // Opening a poll (moderators)
  const pollForm = find("[data-poll-form]");
  if (pollForm) {
    const promptField = find("[data-poll-prompt]");
    const choiceList = find("[data-poll-choices]");
    const addChoice = find("[data-poll-add-choice]");
    const formError = find("[data-poll-form-error]");

    const renumber = () => {
      const rows = [...choiceList.children];
      rows.forEach((row, index) => {
        const input = row.querySelector("input");
        const label = row.querySelector("label");
        input.id = `poll-choice-${index + 1}`;
        label.htmlFor = input.id;
        label.textContent = t("choice", { n: index + 1 });
        const remove = row.querySelector("button");
        remove.hidden = rows.length <= 2;
        remove.setAttribute("aria-label", t("removeChoice", { n: index + 1 }));
      });
      addChoice.disabled = rows.length >= config.pollMaxChoices;
    };
    const addRow = () => {
      const row = el("li", "poll-choice-row");
      const label = el("label");
      const input = el("input");
      input.type = "text";
      input.maxLength = config.pollChoiceMaxLength;
      const remove = button("×", "remove-choice");
      remove.addEventListener("click", () => {
        const next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        renumber();
        if (next) next.querySelector("input").focus();
      });
      row.append(label, input, remove);
      choiceList.append(row);
      renumber();
      return input;
    };
    const reset = () => {
      promptField.value = "";
      choiceList.replaceChildren();
      addRow();
      addRow();
    };
    reset();
    addChoice.addEventListener("click", () => addRow().focus());
    pollForm.addEventListener("submit", (event) => {
      event.preventDefault();
      clearError(formError);
      const prompt = promptField.value.trim();
      const choices = [...choiceList.querySelectorAll("input")].map((input) => input.value.trim()).filter(Boolean);
      if (!prompt) {
        showError(formError, t("pollNeedsPrompt"));
        promptField.focus();
        return;
      }
      if (choices.length < 2 || choices.length > config.pollMaxChoices) {
        showError(formError, t("pollNeedsChoices", { max: config.pollMaxChoices }));
        return;
      }
      request({ type: "poll.open", prompt, choices })
        .then(() => {
          reset();
          promptField.focus();
        })
        .catch((frame) => showError(formError, errorText(frame)));
    });
  }

  // Raised hands ------------------------------------------------------------------------------------

  const handToggle = find("[data-hand-toggle]");
  const handStatus = find("[data-hand-status]");
  const handError = find("[data-hand-error]");

  function renderHand(message) {
    if (!handToggle) return;
    handToggle.disabled = false;
    handToggle.textContent = state.handRaised ? t("lowerHand") : t("raiseHand");
    handToggle.classList.toggle("raised", state.handRaised);
    handStatus.textContent = message || (state.handRaised ? t("handRaised") : t("handDown"));
  }

  if (handToggle) {
    handToggle.addEventListener("click", () => {
      clearError(handError);
      const raise = !state.handRaised;
      state.loweringOwnHand = !raise;
      handToggle.disabled = true;
      request({ type: raise ? "hand.raise" : "hand.lower" })
        .then(() => {
          state.handRaised = raise;
        })
        .catch((frame) => showError(handError, errorText(frame)))
        .finally(() => {
          state.loweringOwnHand = false;
          renderHand();
        });
    });
  }

  const handsQueue = find("[data-hands-queue]");
  const handsEmpty = find("[data-hands-empty]");
  const handsCount = find("[data-hands-count]");
  const handsError = find("[data-hands-error]");

  function renderHands() {
    if (!handsQueue) return;
    keepingFocus(handsQueue, () => {
      handsQueue.replaceChildren(
        ...state.hands.map((hand) => {
          const li = el("li", "hand");
          const who = el("span", "hand-name", hand.name);
          const when = el("span", "muted", ` ${t("raisedAt", { time: time(hand.raised_at) })} `);
          const lower = button(t("lower"));
          lower.setAttribute("aria-label", t("lowerHandOf", { name: hand.name }));
          lower.dataset.focusKey = `lower-${hand.user_id}`;
          lower.addEventListener("click", () => {
            clearError(handsError);
            request({ type: "hand.lower", user_id: hand.user_id }).catch((frame) =>
              showError(handsError, errorText(frame)),
            );
          });
          // Invite to speak: the media socket's media.invite (media.js); the server lowers the hand.
          const invite = button(t("inviteToSpeak"), "primary");
          invite.setAttribute("aria-label", t("inviteToSpeakName", { name: hand.name }));
          invite.dataset.inviteToSpeak = String(hand.user_id);
          invite.dataset.focusKey = `invite-${hand.user_id}`;
          invite.addEventListener("click", () => {
            clearError(handsError);
            const media = window.corridorMedia;
            if (!media || !media.invite) {
              showError(handsError, t("notConnected"));
              return;
            }
            invite.disabled = true;
            media
              .invite(hand.user_id, hand.name)
              .catch((frame) => showError(handsError, errorText(frame)))
              .finally(() => {
                invite.disabled = false;
              });
          });
          li.append(who, when, invite, lower);
          return li;
        }),
      );
    });
    handsEmpty.hidden = state.hands.length > 0;
    handsCount.textContent = String(state.hands.length);
  }

  // Attendance (moderators) ----------------------------------------------------------------------------

  const attendancePanel = find("[data-attendance]");

  function renderAttendance() {
    const presence = state.attendance;
    if (!attendancePanel || !presence) return;
    const summary = el("div", "presence-counts");
    summary.append(el("p", "presence-total", t("attendanceSummary", { count: presence.present, enrolled: presence.enrolled })));
    const places = el("ul", "presence-places");
    for (const room of presence.rooms) {
      const item = el("li");
      item.append(el("span", "place-count", String(room.count)), ` ${room.name} `, el("span", "muted", room.city));
      places.append(item);
    }
    const remote = el("li");
    remote.append(el("span", "place-count", String(presence.remote)), ` ${t("remote")}`);
    places.append(remote);
    summary.append(places);

    const lists = el("div", "presence-lists");
    const here = el("section");
    here.append(el("h3", "", t("hereNow")));
    if (presence.here.length) {
      const people = el("ul", "people");
      for (const person of presence.here) {
        const item = el("li", "", `${person.name} `);
        const where = person.where === "room" ? person.room : t("remote");
        item.append(el("span", "muted", `${where} · ${t("since", { time: time(person.since) })}`));
        people.append(item);
      }
      here.append(people);
    } else {
      here.append(el("p", "muted", t("nobodyHere")));
    }
    const left = el("section");
    left.append(el("h3", "", t("hasLeft")));
    if (presence.left.length) {
      const people = el("ul", "people");
      for (const person of presence.left) {
        const item = el("li", "", `${person.name} `);
        item.append(el("span", "muted", t("leftAt", { time: time(person.left_at) })));
        people.append(item);
      }
      left.append(people);
    } else {
      left.append(el("p", "muted", t("nobodyLeft")));
    }
    lists.append(here, left);
    attendancePanel.replaceChildren(summary, lists, el("p", "muted", t("asOf", { time: time(presence.at) })));
  }

  // Everything ------------------------------------------------------------------------------------------

  function renderAll() {
    renderSessionState();
    renderRecording(false);
    consentFollowsRecording(false);
    renderQuestions();
    renderPolls();
    renderHand();
    renderHands();
    renderAttendance();
  }

  updateCounter();
  renderAttendance();
  if ("WebSocket" in window) connect();
})();
