// A session's time on the reader's own clock (the browser's time zone), beside the city time the server rendered:
// "09:00–10:30 Singapore time · 12:00–13:30 your time (Australia/Sydney)". Each spot is an empty, hidden
// [data-viewer-time] with the session's start and end (ISO 8601) and the zones the page already shows; nothing is
// added when the browser keeps one of those zones, or the same clock as the first one (Perth reads Singapore's).
(() => {
  "use strict";

  const spots = document.querySelectorAll("[data-viewer-time]");
  if (!spots.length || !window.Intl) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  const language = document.documentElement.lang || "en";
  const { t, has } = window.corridor || {};

  const formats = new Map();
  function format(kind, timeZone) {
    const key = `${kind} ${timeZone}`;
    if (!formats.has(key)) {
      const options = {
        clock: { hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
        day: { weekday: "short", day: "numeric", month: "short" },
        date: { year: "numeric", month: "2-digit", day: "2-digit" },
      }[kind];
      formats.set(key, new Intl.DateTimeFormat(kind === "date" ? "en-CA" : language, { ...options, timeZone }));
    }
    return formats.get(key);
  }

  for (const spot of spots) {
    const starts = new Date(spot.dataset.starts);
    const ends = new Date(spot.dataset.ends);
    const shown = (spot.dataset.shownZones || "").split(/\s+/).filter(Boolean);
    if (Number.isNaN(starts.getTime()) || Number.isNaN(ends.getTime()) || !shown.length) continue;
    if (shown.includes(zone)) continue;
    let cityDate;
    let cityClock;
    try {
      cityDate = format("date", shown[0]).format(starts);
      cityClock = format("clock", shown[0]).format(starts);
    } catch {
      continue; // a zone this browser does not know
    }
    const myDate = format("date", zone).format(starts);
    const clock = format("clock", zone);
    if (cityDate === myDate && cityClock === clock.format(starts)) continue;
    let range = `${clock.format(starts)}–${clock.format(ends)}`;
    // Another day on the reader's calendar: say which.
    if (cityDate !== myDate) range = `${format("day", zone).format(starts)} ${range}`;
    const time = document.createElement("time");
    time.dateTime = spot.dataset.starts;
    time.textContent = has && has("yourTime") ? t("yourTime", { time: range, zone }) : `${range} (${zone})`;
    spot.replaceChildren("· ", time);
    spot.hidden = false;
  }
})();
