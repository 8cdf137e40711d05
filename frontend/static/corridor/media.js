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
    subRetry: 0, // subscribes refused in a row (a track not there yet): the next try waits longer
    subRetryTimer: null,
    pub: null, // { pc, queue, ready }
    localStream: null,
    publishing: false,
    nextRef: 1,
    pending: new Map(), // ref -> { resolve, reject }
    retry: 0,
    stopped: false,
    lastStats: new Map(),
    byMid: new Map(), // the current subscription's tracks by MID (with role, room, name)
    mutedRooms: new Set(), // ids of the session's rooms whose microphone is muted
    pausedRooms: new Map(), // id → room ({id, name, city}) of the session's rooms an operator stopped
    pinned: null, // the publisher_id of the tile the viewer pinned large
    inviteOpen: false,
  };

  // The page root carries data-recording="on"|"off" (kept current by the recording controls); set it from the
  // page's configuration where nothing else has.
  const pageRoot = document.getElementById("live-session") || document.querySelector("[data-live-session]");
  if (pageRoot && !pageRoot.id) pageRoot.id = "live-session";
  if (pageRoot && !pageRoot.dataset.recording) pageRoot.dataset.recording = config.recorded ? "on" : "off";
  const moderator = Boolean(config.moderator);

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

  // Short news for this viewer (an invitation sent, declined): a polite live region in the media panel.
  const notice = document.createElement("p");
  notice.className = "message media-notice";
  notice.dataset.mediaNotice = "";
  notice.setAttribute("role", "status");
  notice.setAttribute("aria-live", "polite");
  notice.hidden = true;
  ui.error.before(notice);

  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function errorWord(error) {
    return (error && error.code && has(`media.errors.${error.code}`) && t(`media.errors.${error.code}`)) ||
      (error && error.message) || word("error");
  }

  // The city whose media server answers fastest: the best of three timed requests to each city's probe.
  async function nearestCity(probes) {
    const timed = async (url) => {
      let best = Infinity;
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        try {
          await fetch(`${url}?t=${Date.now()}-${i}`, { mode: "cors", cache: "no-store" });
          best = Math.min(best, performance.now() - started);
        } catch (error) {
          return Infinity; // unreachable from here
        }
      }
      return best;
    };
    const cities = Object.keys(probes);
    const times = await Promise.all(cities.map((city) => timed(probes[city])));
    state.probeTimes = Object.fromEntries(cities.map((city, i) => [city, times[i]]));
    const best = Math.min(...times);
    return best === Infinity ? null : cities[times.indexOf(best)];
  }

  function connect() {
    if (state.stopped) return; // refused, or the session ended
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // `?city=`: the city whose media server this person measured nearer (their setting "automatic").
    const city = state.nearCity ? `?city=${encodeURIComponent(state.nearCity)}` : "";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/sessions/${sessionId}/media/${city}`);
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
        state.mutedRooms = new Set(frame.data.muted_rooms || []);
        state.pausedRooms = new Map((frame.data.paused_rooms || []).map((room) => [room.id, room]));
        drawPaused();
        setCanPublish(frame.data.can_publish);
        showConnection("connected");
        state.mediaCity = frame.data.media_city || "";
        panel.dataset.mediaCity = state.mediaCity;
        if (!state.probed && Object.keys(frame.data.media_probes || {}).length > 1) {
          state.probed = true;
          nearestCity(frame.data.media_probes).then((city) => {
            // Nearer elsewhere: reconnect there before anything is published or received here.
            if (city && city !== state.mediaCity && state.socket) {
              state.nearCity = city;
              state.socket.close();
            }
          });
        }
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
        if (frame.can_publish && !state.publishing && config.trainee) askToSpeak();
        if (!frame.can_publish) closeInvitation();
        if (!frame.can_publish && state.publishing) {
          stopPublishing(false);
          showError(word("revoked"));
        }
        break;
      case "media.room_muted":
        if (frame.muted) state.mutedRooms.add(frame.room_id);
        else state.mutedRooms.delete(frame.room_id);
        drawTiles();
        break;
      case "media.room_paused":
        if (frame.paused) state.pausedRooms.set(frame.room.id, frame.room);
        else state.pausedRooms.delete(frame.room.id);
        drawPaused();
        break;
      case "media.declined":
        showNotice(word("declined").replace("{name}", frame.name || ""));
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
    state.byMid = byMid;
    peer.pc.addEventListener("track", (event) => {
      const info = byMid.get(event.transceiver.mid);
      if (info) showRemote(event.track, info);
    });
    try {
      const offer = await request({ type: "media.subscribe", track_ids: wanted.map((t) => t.track_id) });
      if (state.sub !== peer) return;
      const published = new Map(state.tracks.map((t) => [t.publisher_id, t]));
      for (const t of offer.tracks) {
        const { role, room, name, user_id: userId } = published.get(t.publisher_id) || {};
        byMid.set(t.mid, { ...t, role, room, name, user_id: userId });
      }
      await peer.pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
      await request({ type: "media.answer", sdp: peer.pc.localDescription.sdp });
      flushCandidates(peer);
      state.subRetry = 0;
    } catch (error) {
      if (state.sub !== peer) return;
      if (error.code === "no_tracks" || error.code === "unknown_track") {
        // What we asked for is not there (yet): a track the node is still relaying, or one just gone. Forget this
        // subscription, so the next media.tracks subscribes again even if it lists the same tracks, and try again
        // soon in case none comes (1 s, then 2, 4, up to 10).
        closePeer("sub");
        const delay = Math.min(10, 2 ** state.subRetry);
        state.subRetry += 1;
        clearTimeout(state.subRetryTimer);
        state.subRetryTimer = setTimeout(() => resubscribe(false), delay * 1000);
        return;
      }
      showError(error.message);
    }
  }

  function clearRemote() {
    for (const node of panel.querySelectorAll("[data-remote], [data-remote-tile]")) node.remove();
    ui.empty.hidden = false;
    ui.enableSound.hidden = true;
  }

  // The words on a publisher's tile: a room's name and city, else the person's name (or "Instructor").
  function tileLabel(info) {
    if (info.room) return `${info.room.name} · ${word(`cities.${info.room.city}`, info.room.city)}`;
    return info.name || (info.role === "instructor" ? word("instructor") : "");
  }

  function tileButton(text, key) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button small media-tile-button";
    button.dataset[key] = "";
    button.textContent = text;
    return button;
  }

  function showRemote(track, info) {
    if (track.kind === "audio") {
      const audio = document.createElement("audio");
      audio.dataset.remote = info.track_id;
      audio.dataset.publisher = info.publisher_id;
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
    // One tile per publisher, labelled: a room agent's camera with its room and city ("Marina Bay Studio ·
    // Singapore"), a person's with their name. Its buttons: pin large (everyone), mute a room or stop a
    // speaker (moderators).
    const label = tileLabel(info);
    const tile = document.createElement("figure");
    tile.className = "media-tile";
    tile.dataset.remoteTile = info.track_id;
    tile.dataset.publisher = info.publisher_id;
    tile.dataset.role = info.role || "";
    if (info.room) tile.dataset.roomId = String(info.room.id);
    if (info.user_id) tile.dataset.userId = String(info.user_id);
    tile.dataset.label = label;
    tile.append(video);
    const caption = document.createElement("figcaption");
    caption.className = "media-label";
    const name = document.createElement("span");
    name.dataset.mediaLabel = "";
    name.textContent = label;
    const badge = document.createElement("span");
    badge.className = "tag media-muted";
    badge.dataset.mediaMutedBadge = "";
    badge.textContent = word("roomMuted");
    badge.hidden = true;
    caption.append(name);
    if (label) video.setAttribute("aria-label", label);
    const actions = document.createElement("div");
    actions.className = "media-tile-actions";
    const pin = tileButton(word("pin"), "mediaPin");
    pin.addEventListener("click", () => {
      state.pinned = state.pinned === info.publisher_id ? null : info.publisher_id;
      drawTiles();
      pin.focus();
    });
    actions.append(pin);
    if (moderator && info.room) {
      const mute = tileButton(word("muteRoom"), "mediaRoomMute");
      mute.addEventListener("click", () => {
        const muted = !state.mutedRooms.has(info.room.id);
        mute.disabled = true;
        request({ type: "media.mute", room_id: info.room.id, muted })
          .then(() => {
            if (muted) state.mutedRooms.add(info.room.id);
            else state.mutedRooms.delete(info.room.id);
            drawTiles();
          })
          .catch((error) => showError(errorWord(error)))
          .finally(() => {
            mute.disabled = false;
          });
      });
      actions.append(mute);
    }
    if (moderator && info.role === "trainee" && info.user_id) {
      const stop = tileButton(word("stopSpeaker"), "mediaStopSpeaker");
      stop.setAttribute("aria-label", word("stopSpeakerLabel").replace("{name}", label));
      stop.addEventListener("click", () => {
        stop.disabled = true;
        request({ type: "media.revoke", user_id: info.user_id })
          .catch((error) => showError(errorWord(error)))
          .finally(() => {
            stop.disabled = false;
          });
      });
      actions.append(stop);
    }
    tile.append(caption, badge, actions);
    placeVideos(video);
    video.play().catch(() => {});
  }

  // Rooms an operator stopped for this session: said in words, so a room that is gone is not a mystery.
  function drawPaused() {
    let list = panel.querySelector("[data-media-paused]");
    if (!list) {
      list = document.createElement("ul");
      list.className = "media-paused";
      list.dataset.mediaPaused = "";
      list.setAttribute("role", "status");
      ui.empty.parentNode.insertBefore(list, ui.empty.nextSibling);
    }
    list.replaceChildren(
      ...[...state.pausedRooms.values()].map((room) => {
        const item = document.createElement("li");
        item.dataset.mediaRoomPaused = String(room.id);
        item.textContent = word("roomPaused").replace("{name}", tileLabel({ room }));
        return item;
      }),
    );
    list.hidden = state.pausedRooms.size === 0;
  }

  // Pin, mute and muted badges follow the state: drawn again whenever it changes.
  function drawTiles() {
    for (const tile of panel.querySelectorAll("[data-remote-tile]")) {
      const label = tile.dataset.label || "";
      const pinned = state.pinned === tile.dataset.publisher;
      tile.dataset.pinned = pinned ? "true" : "false";
      const pin = tile.querySelector("[data-media-pin]");
      pin.textContent = pinned ? word("unpin") : word("pin");
      pin.setAttribute("aria-pressed", pinned ? "true" : "false");
      pin.setAttribute("aria-label", word(pinned ? "unpinLabel" : "pinLabel").replace("{name}", label));
      const roomId = Number(tile.dataset.roomId || 0);
      const muted = Boolean(roomId) && state.mutedRooms.has(roomId);
      tile.dataset.muted = muted ? "true" : "false";
      tile.querySelector("[data-media-muted-badge]").hidden = !muted;
      const mute = tile.querySelector("[data-media-room-mute]");
      if (mute) {
        mute.textContent = muted ? word("unmuteRoom") : word("muteRoom");
        mute.setAttribute("aria-pressed", muted ? "true" : "false");
        mute.setAttribute("aria-label", word(muted ? "unmuteRoomLabel" : "muteRoomLabel").replace("{name}", label));
      }
    }
    placeVideos();
  }

  function placeVideos(added) {
    // The main picture is the pinned one, else the instructor's, else a room's; without any, the first camera.
    const videos = [...panel.querySelectorAll("video[data-remote]")];
    if (added) videos.push(added);
    const tileOf = (video) => video.closest("[data-remote-tile]");
    const main =
      videos.find((v) => state.pinned && tileOf(v)?.dataset.publisher === state.pinned) ||
      videos.find((v) => v.dataset.role === "instructor") ||
      videos.find((v) => v.dataset.role === "room") ||
      videos[0];
    for (const video of videos) {
      const target = video === main ? ui.main : ui.side;
      const tile = tileOf(video) || video;
      if (tile.parentNode !== target) target.append(tile);
    }
    ui.empty.hidden = videos.length > 0;
    if (added) drawTiles();
  }

  ui.enableSound.addEventListener("click", () => {
    for (const audio of panel.querySelectorAll("audio[data-remote]")) audio.play().catch(() => {});
    ui.enableSound.hidden = true;
  });
  ui.audioOnly.addEventListener("change", () => resubscribe(false));

  // -- invited to speak -------------------------------------------------------------------------------------

  // A modal <dialog>: focus moves into it, Escape declines, and the choice is one of two buttons.
  let invitation = null;

  function invitationDialog() {
    if (invitation) return invitation;
    const dialog = document.createElement("dialog");
    dialog.className = "media-invite";
    dialog.dataset.mediaInvite = "";
    dialog.setAttribute("aria-labelledby", "media-invite-title");
    dialog.setAttribute("aria-describedby", "media-invite-text media-invite-recorded");
    const title = document.createElement("h2");
    title.id = "media-invite-title";
    title.textContent = word("inviteTitle");
    const text = document.createElement("p");
    text.id = "media-invite-text";
    text.textContent = word("inviteText");
    const recorded = document.createElement("p");
    recorded.id = "media-invite-recorded";
    recorded.className = "media-invite-recorded";
    recorded.dataset.mediaInviteRecorded = "";
    recorded.textContent = word("inviteRecorded");
    const buttons = document.createElement("div");
    buttons.className = "media-controls";
    const accept = document.createElement("button");
    accept.type = "button";
    accept.className = "button primary";
    accept.dataset.mediaInviteAccept = "";
    accept.textContent = word("accept");
    const decline = document.createElement("button");
    decline.type = "button";
    decline.className = "button";
    decline.dataset.mediaInviteDecline = "";
    decline.textContent = word("decline");
    buttons.append(accept, decline);
    dialog.append(title, text, recorded, buttons);
    accept.addEventListener("click", () => {
      closeInvitation();
      startPublishing().catch(publishFailed);
    });
    decline.addEventListener("click", () => declineInvitation());
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      declineInvitation();
    });
    document.body.append(dialog);
    invitation = dialog;
    return dialog;
  }

  function askToSpeak() {
    const dialog = invitationDialog();
    const recording = pageRoot && pageRoot.dataset.recording === "on";
    dialog.querySelector("[data-media-invite-recorded]").hidden = !recording;
    if (dialog.open) return;
    state.inviteOpen = true;
    if (dialog.showModal) dialog.showModal();
    else dialog.setAttribute("open", "");
    dialog.querySelector("[data-media-invite-accept]").focus();
  }

  function closeInvitation() {
    state.inviteOpen = false;
    if (invitation && invitation.open) invitation.close();
  }

  function declineInvitation() {
    closeInvitation();
    request({ type: "media.decline" }).catch(() => {});
  }

  // The moderators' "Invite to speak" (live.js, raised hands): media.invite; the server lowers the hand.
  function invite(userId, name) {
    return request({ type: "media.invite", user_id: userId }).then((reply) => {
      showNotice(word("invited").replace("{name}", name || ""));
      return reply;
    });
  }

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

  // Per remote track, what this browser receives and decodes (tests and support staff read it from the console):
  // { track_id: { kind, publisher_id, label, packetsReceived, framesDecoded, totalSamplesReceived, audioLevel,
  // totalAudioEnergy } }.
  async function trackStats() {
    const out = {};
    const peer = state.sub;
    if (!peer) return out;
    const byTrack = new Map([...state.byMid.values()].map((info) => [info.track_id, info]));
    const report = await peer.pc.getStats();
    report.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      const info = state.byMid.get(s.mid) || byTrack.get(s.trackIdentifier);
      if (!info) return;
      out[info.track_id] = {
        kind: s.kind,
        publisher_id: info.publisher_id,
        label: tileLabel(info),
        packetsReceived: s.packetsReceived || 0,
        framesDecoded: s.framesDecoded || 0,
        totalSamplesReceived: s.totalSamplesReceived || 0,
        audioLevel: s.audioLevel || 0,
        totalAudioEnergy: s.totalAudioEnergy || 0,
      };
    });
    return out;
  }

  // Tests and support staff can look at the connections from the console.
  window.corridorMedia = { state, invite, trackStats };

  // The video opens only while the session is live: before, the page waits (trainees in the lobby); once it has
  // ended, everything closes. live.js says when the state changes (`corridor:session-state` on the document).
  function followSession(sessionState) {
    if (sessionState === "live") {
      if (!state.socket && !state.stopped && !state.connectQueued) {
        showConnection("connecting");
        // In a recorded session a trainee first acknowledges the recording notice (live.js); then the video connects.
        state.connectQueued = true;
        (window.corridorRecordingNotice || Promise.resolve()).then(() => {
          state.connectQueued = false;
          if (!state.socket && !state.stopped) connect();
        });
      }
    } else if (sessionState === "ended") {
      state.stopped = true;
      const socket = state.socket;
      state.socket = null;
      if (socket) socket.close();
      if (state.publishing || state.localStream) stopPublishing(false);
      closePeer("sub");
      closePeer("pub");
      clearRemote();
      showConnection("ended");
    } else {
      showConnection("waiting");
    }
  }
  const liveRoot = document.querySelector("[data-live-session]");
  followSession(liveRoot && liveRoot.dataset.liveState ? liveRoot.dataset.liveState : "live");
  document.addEventListener("corridor:session-state", (event) => followSession(event.detail.state));
})();
