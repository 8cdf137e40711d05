/* The live page's media panel: WebRTC through the media signaling socket (/ws/sessions/<id>/media/).
 *
 * Protocol: docs/live-protocol.md, "Media signaling". One peer connection publishes (the browser offers), another
 * receives (the server offers). The server has no ICE restart, so any failure means a fresh RTCPeerConnection:
 * publish or subscribe again. Words come from the page (corridor/i18n.js, under "media"), already translated.
 */
(() => {
  "use strict";

  const panel = document.querySelector("[data-media-panel]");
  const configNode = document.getElementById("live-config");
  if (!panel || !configNode || !window.RTCPeerConnection) return;
  const config = JSON.parse(configNode.textContent);
  const sessionId = config.sessionId;
  // `?relay=1` sends all media through TURN (an operator checking the TURN path from this network); the server's
  // welcome can demand the same for everyone (ICE_TRANSPORT_POLICY = relay).
  const relayForced = new URLSearchParams(location.search).get("relay") === "1";
  const $ = (name) => panel.querySelector(`[data-${name}]`);
  const { t, has, isRefusal } = window.corridor;
  // A media word, or `fallback` when the page has none.
  const word = (key, fallback = key) => (has(`media.${key}`) ? t(`media.${key}`) : fallback);

  const ui = {
    connection: $("media-connection"),
    connectionText: $("media-connection-text"),
    main: $("media-main"),
    side: $("media-side"),
    empty: $("media-empty"),
    publish: $("media-publish"),
    self: $("media-self"),
    publishToggle: $("media-publish-toggle"),
    mute: $("media-mute"),
    camera: $("media-camera"),
    audioOnly: $("media-audio-only"),
    enableSound: $("media-enable-sound"),
    error: $("media-error"),
    stats: $("media-stats"),
  };

  const state = {
    socket: null,
    iceServers: [],
    iceTransportPolicy: relayForced ? "relay" : "all",
    canPublish: false,
    peerId: null,
    tracks: [], // the session's published tracks (media.tracks)
    subscribedIds: "", // the remote track ids of the current subscription, sorted and joined
    sub: null, // { pc, queue, ready }
    pub: null, // { pc, queue, ready }
    localStream: null,
    publishing: false,
    nextRef: 1,
    pending: new Map(), // ref -> { resolve, reject }
    retry: 0,
    stopped: false,
    lastStats: new Map(),
  };

  // -- the socket -------------------------------------------------------------------------------------------

  function showConnection(name) {
    ui.connection.dataset.state = name === "connected" ? "live" : name;
    panel.dataset.state = name;
    ui.connectionText.textContent = word(name);
  }

  function showError(text) {
    ui.error.textContent = text || "";
    ui.error.hidden = !text;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/sessions/${sessionId}/media/`);
    state.socket = socket;
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      for (const { reject } of state.pending.values()) reject(new Error("closed"));
      state.pending.clear();
      closePeer("sub");
      closePeer("pub"); // the server closed our connections with the socket
      if (isRefusal(event.code)) {
        state.stopped = true;
        showConnection("closed");
        return;
      }
      showConnection("reconnecting");
      state.retry = Math.min(state.retry + 1, 5);
      setTimeout(connect, 1000 * state.retry);
    });
  }

  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
  }

  function request(frame) {
    const ref = `m${state.nextRef++}`;
    return new Promise((resolve, reject) => {
      state.pending.set(ref, { resolve, reject });
      send({ ...frame, ref });
    });
  }

  function onFrame(frame) {
    if (frame.ref !== undefined && state.pending.has(frame.ref)) {
      const { resolve, reject } = state.pending.get(frame.ref);
      state.pending.delete(frame.ref);
      if (frame.type === "error") {
        const error = new Error(frame.message);
        error.code = frame.code;
        reject(error);
      } else {
        resolve(frame);
      }
      return;
    }
    switch (frame.type) {
      case "welcome":
        state.retry = 0;
        state.iceServers = frame.data.ice_servers;
        state.iceTransportPolicy = relayForced || frame.data.ice_transport_policy === "relay" ? "relay" : "all";
        state.peerId = frame.data.peer_id;
        setCanPublish(frame.data.can_publish);
        showConnection("connected");
        if (state.publishing) startPublishing().catch(publishFailed);
        onTracks(frame.data.tracks);
        break;
      case "media.tracks":
        onTracks(frame.tracks);
        break;
      case "media.subscription_lost":
        resubscribe(true);
        break;
      case "media.node_lost":
        // The SFU node serving the session is gone, and both peer connections with it. The server moves the
        // session to a live node: publish again there; what is published there comes in a media.tracks.
        state.tracks = [];
        resubscribe(true);
        if (state.publishing) startPublishing().catch(publishFailed);
        break;
      case "media.can_publish":
        setCanPublish(frame.can_publish);
        if (!frame.can_publish && state.publishing) {
          stopPublishing(false);
          showError(word("revoked"));
        }
        break;
      case "error":
        showError(word("error"));
        break;
      default:
        break; // media.publisher_left: the media.tracks that follows redraws
    }
  }

  // -- peer connections -------------------------------------------------------------------------------------

  function newPeer(role) {
    const pc = new RTCPeerConnection({ iceServers: state.iceServers, iceTransportPolicy: state.iceTransportPolicy });
    const peer = { pc, queue: [], ready: false, role };
    pc.addEventListener("icecandidate", (event) => {
      const c = event.candidate;
      const frame = {
        type: "media.candidate",
        role: role === "sub" ? "subscriber" : "publisher",
        candidate: c ? c.candidate : "",
        mid: c ? c.sdpMid : null,
        mline_index: c ? c.sdpMLineIndex : null,
      };
      if (frame.mid === null) frame.mid = pc.getTransceivers()[0]?.mid ?? null;
      // The server learns of this connection with our offer or answer: hold candidates until then.
      if (peer.ready) request(frame).catch(() => {});
      else peer.queue.push(frame);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (state[role] !== peer) return;
      if (pc.connectionState === "failed") {
        if (role === "sub") resubscribe(true);
        else startPublishing().catch(publishFailed);
      }
    });
    return peer;
  }

  function flushCandidates(peer) {
    peer.ready = true;
    for (const frame of peer.queue.splice(0)) request(frame).catch(() => {});
  }

  function closePeer(role) {
    const peer = state[role];
    state[role] = null;
    if (peer) peer.pc.close();
    if (role === "sub") {
      state.subscribedIds = "";
      clearRemote();
    }
  }

  // -- receiving --------------------------------------------------------------------------------------------

  function wantedTracks() {
    const remote = state.tracks.filter((t) => t.publisher_id !== state.peerId);
    return ui.audioOnly.checked ? remote.filter((t) => t.kind === "audio") : remote;
  }

  function onTracks(tracks) {
    state.tracks = tracks;
    resubscribe(false);
  }

  async function resubscribe(force) {
    const wanted = wantedTracks();
    const ids = wanted.map((t) => t.track_id).sort().join(" ");
    if (!force && ids === state.subscribedIds && (state.sub || !ids)) return;
    closePeer("sub");
    if (!ids || !state.socket) return;
    state.subscribedIds = ids;
    const peer = newPeer("sub");
    state.sub = peer;
    const byMid = new Map();
    peer.pc.addEventListener("track", (event) => {
      const info = byMid.get(event.transceiver.mid);
      if (info) showRemote(event.track, info);
    });
    try {
      const offer = await request({ type: "media.subscribe", track_ids: wanted.map((t) => t.track_id) });
      if (state.sub !== peer) return;
      const published = new Map(state.tracks.map((t) => [t.publisher_id, t]));
      for (const t of offer.tracks) {
        const { role, room } = published.get(t.publisher_id) || {};
        byMid.set(t.mid, { ...t, role, room });
      }
      await peer.pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
      await request({ type: "media.answer", sdp: peer.pc.localDescription.sdp });
      flushCandidates(peer);
    } catch (error) {
      if (state.sub !== peer) return;
      if (error.code === "no_tracks" || error.code === "unknown_track") return; // a media.tracks is on its way
      showError(error.message);
    }
  }

  function clearRemote() {
    for (const node of panel.querySelectorAll("[data-remote], [data-remote-tile]")) node.remove();
    ui.empty.hidden = false;
    ui.enableSound.hidden = true;
  }

  function showRemote(track, info) {
    if (track.kind === "audio") {
      const audio = document.createElement("audio");
      audio.dataset.remote = info.track_id;
      audio.autoplay = true;
      audio.srcObject = new MediaStream([track]);
      panel.append(audio);
      audio.play().catch(() => {
        ui.enableSound.hidden = false;
      });
      return;
    }
    const video = document.createElement("video");
    video.dataset.remote = info.track_id;
    video.dataset.role = info.role || "";
    video.muted = true; // sound plays through its own <audio>: a muted video may autoplay
    video.autoplay = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([track]);
    // A room agent's camera is labelled with its room and city ("Marina Bay Studio · Singapore").
    const tile = document.createElement("figure");
    tile.className = "media-tile";
    tile.dataset.remoteTile = info.track_id;
    tile.append(video);
    if (info.room) {
      const label = `${info.room.name} · ${word(`cities.${info.room.city}`, info.room.city)}`;
      const caption = document.createElement("figcaption");
      caption.className = "media-label";
      caption.textContent = label;
      video.setAttribute("aria-label", label);
      tile.append(caption);
    }
    placeVideos(video);
    video.play().catch(() => {});
  }

  function placeVideos(added) {
    // The main picture is the instructor's, else a room's; without either, the first camera.
    const videos = [...panel.querySelectorAll("video[data-remote]")];
    if (added) videos.push(added);
    const main =
      videos.find((v) => v.dataset.role === "instructor") || videos.find((v) => v.dataset.role === "room") || videos[0];
    for (const video of videos) {
      const target = video === main ? ui.main : ui.side;
      const tile = video.closest("[data-remote-tile]") || video;
      if (tile.parentNode !== target) target.append(tile);
    }
    ui.empty.hidden = videos.length > 0;
  }

  ui.enableSound.addEventListener("click", () => {
    for (const audio of panel.querySelectorAll("audio[data-remote]")) audio.play().catch(() => {});
    ui.enableSound.hidden = true;
  });
  ui.audioOnly.addEventListener("change", () => resubscribe(false));

  // -- publishing -------------------------------------------------------------------------------------------

  function setCanPublish(can) {
    state.canPublish = can;
    ui.publish.hidden = !can;
  }

  async function startPublishing() {
    if (!state.localStream) {
      state.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360, frameRate: 30 } });
      ui.self.srcObject = state.localStream;
      ui.self.hidden = false;
    }
    state.publishing = true;
    drawPublishControls();
    closePeer("pub");
    const peer = newPeer("pub");
    state.pub = peer;
    for (const track of state.localStream.getTracks()) {
      peer.pc.addTransceiver(track, { direction: "sendonly", streams: [state.localStream] });
    }
    await peer.pc.setLocalDescription(await peer.pc.createOffer());
    const answer = await request({ type: "media.publish", sdp: peer.pc.localDescription.sdp });
    if (state.pub !== peer) return;
    await peer.pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    flushCandidates(peer);
    showError("");
  }

  function stopPublishing(tell) {
    if (tell) request({ type: "media.unpublish" }).catch(() => {});
    state.publishing = false;
    closePeer("pub");
    if (state.localStream) for (const track of state.localStream.getTracks()) track.stop();
    state.localStream = null;
    ui.self.srcObject = null;
    ui.self.hidden = true;
    drawPublishControls();
  }

  function publishFailed(error) {
    if (error.name === "NotAllowedError" || error.name === "NotFoundError" || error.name === "NotReadableError") {
      stopPublishing(false);
      showError(word("noCamera"));
    } else if (error.message !== "closed") {
      showError(error.message || word("error"));
    }
  }

  function drawPublishControls() {
    ui.publishToggle.textContent = state.publishing ? word("stopPublishing") : word("publish");
    ui.mute.hidden = ui.camera.hidden = !state.publishing;
    const audio = state.localStream?.getAudioTracks()[0];
    const video = state.localStream?.getVideoTracks()[0];
    ui.mute.textContent = audio && !audio.enabled ? word("unmute") : word("mute");
    ui.camera.textContent = video && !video.enabled ? word("cameraOn") : word("cameraOff");
  }

  ui.publishToggle.addEventListener("click", () => {
    if (state.publishing) stopPublishing(true);
    else startPublishing().catch(publishFailed);
  });
  ui.mute.addEventListener("click", () => {
    for (const track of state.localStream?.getAudioTracks() || []) track.enabled = !track.enabled;
    drawPublishControls();
  });
  ui.camera.addEventListener("click", () => {
    for (const track of state.localStream?.getVideoTracks() || []) track.enabled = !track.enabled;
    drawPublishControls();
  });

  // -- statistics -------------------------------------------------------------------------------------------

  async function collect(peer, direction) {
    if (!peer) return null;
    const report = await peer.pc.getStats();
    const out = { bytes: 0, fps: null, lost: 0, packets: 0, rtt: null };
    report.forEach((s) => {
      if (s.type === `${direction}-rtp` && !s.isRemote) {
        out.bytes += (direction === "inbound" ? s.bytesReceived : s.bytesSent) || 0;
        out.packets += (direction === "inbound" ? s.packetsReceived : s.packetsSent) || 0;
        out.lost += s.packetsLost || 0;
        if (s.kind === "video" && s.framesPerSecond !== undefined) out.fps = s.framesPerSecond;
      } else if (s.type === "remote-inbound-rtp" && direction === "outbound") {
        out.lost += s.packetsLost || 0;
      } else if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined) {
        out.rtt = s.currentRoundTripTime;
      }
    });
    const now = performance.now();
    const last = state.lastStats.get(direction);
    state.lastStats.set(direction, { bytes: out.bytes, at: now });
    out.kbps = last && now > last.at ? ((out.bytes - last.bytes) * 8) / (now - last.at) : null;
    return out;
  }

  function statsRows(label, s) {
    const rows = [[label, ""]];
    rows.push([word("bitrate"), s.kbps === null ? "–" : `${Math.max(0, s.kbps).toFixed(0)} kbit/s`]);
    rows.push([word("rtt"), s.rtt === null ? "–" : `${(s.rtt * 1000).toFixed(0)} ms`]);
    const total = s.packets + s.lost;
    rows.push([word("loss"), total ? `${((100 * s.lost) / total).toFixed(1)} %` : "–"]);
    rows.push([word("fps"), s.fps === null ? "–" : String(Math.round(s.fps))]);
    return rows;
  }

  async function drawStats() {
    const [receiving, sending] = await Promise.all([collect(state.sub, "inbound"), collect(state.pub, "outbound")]);
    const rows = [];
    if (receiving) rows.push(...statsRows(word("receiving"), receiving));
    if (sending) rows.push(...statsRows(word("sending"), sending));
    ui.stats.replaceChildren(
      ...rows.flatMap(([term, value]) => {
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = term;
        dd.textContent = value;
        return [dt, dd];
      }),
    );
  }
  setInterval(() => drawStats().catch(() => {}), 2000);

  // Tests and support staff can look at the connections from the console.
  window.corridorMedia = { state };
  showConnection("connecting");
  connect();
})();
