// Plays a stream's HLS playlist and draws the analysed frames' boxes over it, in step with
// the picture on screen.
//
// Frames come two ways: pushed as they are analysed (Server-Sent Events, /events/<stream>: brand
// boxes), and fetched for the window around the playing time (/detections/<stream>: brands and
// people). A fetch replaces the window it covers; pushed frames newer than it are kept.
//
// Sync: every segment carries its wall-clock start (EXT-X-PROGRAM-DATE-TIME), and every
// detection its frame's wall-clock time (segment start + pts), so the frame on screen maps to
// a wall-clock instant: fragment start date + (media time - fragment start). The overlay shows
// the latest analysed frame at or before that instant, until the next one.
"use strict";

const config = JSON.parse(document.getElementById("config").textContent);
const video = document.getElementById("video");
const canvas = document.getElementById("overlay");
const statusLine = document.getElementById("status");
const HOLD_MS = 1500; // the longest an analysed frame's boxes stay up without a newer one
const SLACK_MS = 20; // frame times and media times are rounded differently

let fragments = []; // {start, end, date} per media segment, from the playlist
let frames = []; // {t, boxes}, sorted by t, from /detections
let fetched = null; // {from, to} in epoch ms
let fetching = false;
let pushed = 0; // frames received over the events stream

// What the overlay shows now; tests and operators read it from the page.
window.brandlakeOverlay = { mediaTime: null, playingMs: null, frameMs: null, boxes: 0, pushed: 0 };

function setStatus(text) {
  statusLine.textContent = text;
}

function wallClockMs(mediaTime) {
  for (const f of fragments) {
    if (mediaTime >= f.start - 0.001 && mediaTime < f.end) {
      return f.date + (mediaTime - f.start) * 1000;
    }
  }
  return null;
}

async function ensureDetections(ms) {
  if (fetching || (fetched && ms >= fetched.from + 1000 && ms <= fetched.to - 2000)) return;
  fetching = true;
  const from = Math.floor(ms - 2000);
  const to = Math.ceil(ms + config.windowMs);
  try {
    const url = `/detections/${encodeURIComponent(config.stream)}?from=${from}&to=${to}`;
    const response = await fetch(url);
    if (response.ok) {
      const newer = frames.filter((f) => f.t > to);
      frames = (await response.json()).frames.concat(newer);
      fetched = { from, to };
      if (video.paused) draw(video.currentTime); // no frame callback comes while paused
    } else {
      setStatus(`detections: ${response.status} ${await response.text()}`);
    }
  } catch (error) {
    setStatus(`detections: ${error}`);
  } finally {
    fetching = false;
  }
}

// A pushed frame, unless the fetched window has it already (with people's boxes too).
function insertFrame(frame) {
  let i = frames.length;
  while (i > 0 && frames[i - 1].t > frame.t) i--;
  if (i > 0 && frames[i - 1].t === frame.t) return;
  frames.splice(i, 0, { t: frame.t, boxes: frame.boxes });
}

function listen() {
  if (!window.EventSource) return;
  const events = new EventSource(`/events/${encodeURIComponent(config.stream)}`);
  events.addEventListener("frame", (event) => {
    insertFrame(JSON.parse(event.data));
    pushed += 1;
    window.brandlakeOverlay.pushed = pushed;
  });
}

function frameAt(ms) {
  let low = 0;
  let high = frames.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (frames[mid].t <= ms + SLACK_MS) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  if (found < 0) return null;
  const next = frames[found + 1];
  const until = next ? Math.min(next.t, frames[found].t + HOLD_MS) : frames[found].t + HOLD_MS;
  return ms <= until ? frames[found] : null;
}

// The rectangle the picture fills inside the element (object-fit: contain letterboxes it).
function pictureRect() {
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const aspect = video.videoWidth && video.videoHeight ? video.videoWidth / video.videoHeight : 16 / 9;
  const w = Math.min(width, height * aspect);
  const h = w / aspect;
  return { x: (width - w) / 2, y: (height - h) / 2, w, h };
}

function draw(mediaTime) {
  const ratio = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(canvas.clientWidth * ratio)) {
    canvas.width = Math.round(canvas.clientWidth * ratio);
    canvas.height = Math.round(canvas.clientHeight * ratio);
  }
  const context = canvas.getContext("2d");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  const ms = wallClockMs(mediaTime);
  const frame = ms === null ? null : frameAt(ms);
  window.brandlakeOverlay = {
    mediaTime,
    playingMs: ms,
    frameMs: frame ? frame.t : null,
    boxes: frame ? frame.boxes.length : 0,
    pushed,
  };
  if (ms !== null) ensureDetections(ms);
  if (!frame) return;
  const rect = pictureRect();
  context.lineWidth = 3;
  context.font = "bold 13px sans-serif";
  context.textBaseline = "bottom";
  for (const box of frame.boxes) {
    const colour = config.colours[box.kind] || "#ffffff";
    const x = rect.x + box.x1 * rect.w;
    const y = rect.y + box.y1 * rect.h;
    const w = (box.x2 - box.x1) * rect.w;
    const h = (box.y2 - box.y1) * rect.h;
    context.strokeStyle = colour;
    context.strokeRect(x, y, w, h);
    const label = `${box.label} ${Math.round(box.confidence * 100)}%`;
    const labelWidth = context.measureText(label).width + 6;
    const labelY = y >= 18 ? y - 1 : y + h + 17; // above the box, or below it at the top edge
    context.fillStyle = colour;
    context.fillRect(x - 1.5, labelY - 16, labelWidth, 16);
    context.fillStyle = "#000000";
    context.fillText(label, x + 1.5, labelY - 2);
  }
}

function onVideoFrame(now, metadata) {
  draw(metadata.mediaTime);
  video.requestVideoFrameCallback(onVideoFrame);
}

function start() {
  const source = `/hls/${encodeURIComponent(config.stream)}/${config.playlist}`;
  if (!window.Hls || !Hls.isSupported()) {
    setStatus("this browser cannot play HLS through Media Source Extensions");
    return;
  }
  const hls = new Hls({ enableWorker: true });
  hls.on(Hls.Events.LEVEL_LOADED, (_event, data) => {
    fragments = data.details.fragments
      .filter((f) => f.programDateTime)
      .map((f) => ({ start: f.start, end: f.start + f.duration, date: f.programDateTime }));
    const live = data.details.live ? "live" : "recorded";
    setStatus(`${config.stream}: ${live}, ${fragments.length} segments`);
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (data.fatal) setStatus(`player error: ${data.type} ${data.details}`);
  });
  hls.loadSource(source);
  hls.attachMedia(video);
  listen();
  video.muted = true;
  video.addEventListener("loadedmetadata", () => video.play().catch(() => {}));
  // Paused or seeking, no video frame callback fires: redraw on those events too.
  for (const name of ["seeked", "pause", "resize"]) {
    video.addEventListener(name, () => draw(video.currentTime));
  }
  window.addEventListener("resize", () => draw(video.currentTime));
  if ("requestVideoFrameCallback" in video) {
    video.requestVideoFrameCallback(onVideoFrame);
  } else {
    const tick = () => {
      draw(video.currentTime);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
}

start();
