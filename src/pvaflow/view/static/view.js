// pvaflow view: one WebSocket to the viewer; panels for image and status channels, the pipeline table.
// Plain JavaScript, no libraries: the page must work without internet.
"use strict";

const COLORMAPS = ["gray", "viridis", "inferno", "hot"];
const COMMANDS = ["configure", "reset_stats", "get_stats", "stop"];
const LINE_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

const view = {
  socket: null,
  hello: null,
  panels: new Map(),   // channel -> {element, kind, ...}
  frames: {},          // channel -> {id, drawn}: what the page drew (read by the tests)
  pipeline: null,      // the last pipeline message
  replies: [],         // control replies, newest last
};
window.pvaflowView = view;

function send(message) {
  if (view.socket && view.socket.readyState === WebSocket.OPEN) view.socket.send(JSON.stringify(message));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  view.socket = socket;
  const state = document.getElementById("connection");
  socket.onopen = () => { state.textContent = "live"; state.classList.add("open"); };
  socket.onclose = () => {
    state.textContent = "disconnected: retrying"; state.classList.remove("open");
    setTimeout(connect, 2000);
  };
  socket.onmessage = (event) => receive(JSON.parse(event.data));
}

function receive(message) {
  switch (message.type) {
    case "hello": return hello(message);
    case "frame": return frame(message);
    case "channel": return channelCounts(message);
    case "pipeline": return pipeline(message);
    case "error": return showError(message);
  }
}

function hello(message) {
  view.hello = message;
  document.getElementById("title").textContent = message.title;
  document.title = message.title;
  document.getElementById("pipeline").hidden = !message.pipeline;
  const wanted = view.panels.size ? [...view.panels.keys()] : message.channels;
  for (const channel of wanted) openPanel(channel);  // after a reconnect: the same panels again
}

// --- panels ---

function openPanel(channel) {
  let panel = view.panels.get(channel);
  if (!panel) {
    const {colormap, contrast, low_percentile, high_percentile, low, high} = view.hello.display;  // the defaults
    panel = {channel, kind: null, element: null, zoom: "fit",
      display: {colormap, contrast, low_percentile, high_percentile, low, high}};
    view.panels.set(channel, panel);
  }
  subscribe(panel);
  return panel;
}

function closePanel(channel) {
  const panel = view.panels.get(channel);
  if (!panel) return;
  send({type: "unsubscribe", channel});
  if (panel.element) panel.element.remove();
  view.panels.delete(channel);
}

function subscribe(panel) {
  const display = Object.assign({}, panel.display, {width: wantedWidth(panel)});
  send({type: "subscribe", channel: panel.channel, display});
}

function wantedWidth(panel) {
  const box = panel.element ? panel.element.querySelector(".picture") : null;
  const boxWidth = Math.max(64, Math.round((box ? box.clientWidth : 800) * (window.devicePixelRatio || 1)));
  if (panel.zoom === "fit" || !panel.nx) return Math.min(4096, boxWidth);
  return Math.min(4096, panel.nx);  // zoomed in: every pixel, the browser enlarges
}

function panelElement(panel, kind) {
  if (panel.element && panel.kind === kind) return panel.element;
  if (panel.element) panel.element.remove();
  const template = document.getElementById(kind === "image" ? "image-panel" : "status-panel");
  const element = template.content.firstElementChild.cloneNode(true);
  element.dataset.channel = panel.channel;
  element.querySelector(".channel").textContent = panel.channel;
  element.querySelector(".close").onclick = () => closePanel(panel.channel);
  document.getElementById("panels").appendChild(element);
  panel.element = element;
  panel.kind = kind;
  if (kind === "image") imageTools(panel); else statusTools(panel);
  return element;
}

function imageTools(panel) {
  const element = panel.element;
  const colormap = element.querySelector(".colormap");
  for (const name of COLORMAPS) colormap.add(new Option(name, name));
  colormap.value = panel.display.colormap;
  const contrast = element.querySelector(".contrast");
  const low = element.querySelector(".low"), high = element.querySelector(".high");
  contrast.value = panel.display.contrast;
  const showLimits = () => {
    const fixed = panel.display.contrast === "fixed";
    element.querySelector(".low-label").firstChild.textContent = fixed ? "low " : "low % ";
    element.querySelector(".high-label").firstChild.textContent = fixed ? "high " : "high % ";
    low.value = fixed ? panel.display.low : panel.display.low_percentile;
    high.value = fixed ? panel.display.high : panel.display.high_percentile;
  };
  showLimits();
  const changed = () => {
    panel.display.colormap = colormap.value;
    const wasFixed = panel.display.contrast === "fixed";
    panel.display.contrast = contrast.value;
    if (wasFixed === (contrast.value === "fixed")) {
      const key = contrast.value === "fixed" ? ["low", "high"] : ["low_percentile", "high_percentile"];
      panel.display[key[0]] = Number(low.value);
      panel.display[key[1]] = Number(high.value);
    }
    showLimits();
    subscribe(panel);
  };
  colormap.onchange = contrast.onchange = low.onchange = high.onchange = changed;
  const zoom = element.querySelector(".zoom");
  zoom.onchange = () => { panel.zoom = zoom.value; subscribe(panel); };
}

function statusTools(panel) {
  const form = panel.element.querySelector(".control");
  const control = view.hello.controls[panel.channel];
  if (!view.hello.allowControl || !control) return;
  form.hidden = false;
  form.querySelector(".control-channel").textContent = control;
  const command = form.querySelector(".command");
  for (const name of COMMANDS) command.add(new Option(name, name));
  form.onsubmit = (event) => {
    event.preventDefault();
    sendCommand(control, command.value, form.querySelector(".args").value, form.querySelector(".reply"));
  };
}

async function sendCommand(channel, command, args, replyElement) {
  if (command === "stop" && !confirm(`Stop the stage behind ${channel}?`)) return;
  replyElement.textContent = `${command}: waiting for the answer...`;
  let text;
  try {
    const response = await fetch("/control", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({channel, command, args: command === "configure" ? args : ""})});
    const answer = await response.json();
    text = answer.error ? `error: ${answer.error}` : answer.reply;
  } catch (error) {
    text = `error: ${error}`;
  }
  replyElement.textContent = text;
  view.replies.push({channel, command, text});
}

// --- frames ---

function frame(message) {
  const panel = view.panels.get(message.channel);
  if (!panel) return;
  const element = panelElement(panel, "image");
  panel.nx = message.nx;
  const picture = new Image();
  picture.onload = () => {
    const canvas = element.querySelector("canvas.image");
    if (canvas.width !== picture.width || canvas.height !== picture.height) {
      canvas.width = picture.width; canvas.height = picture.height;
    }
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(picture, 0, 0);
    canvas.style.width = `${shownWidth(panel, element, message, picture)}px`;
    const drawn = (view.frames[message.channel] || {drawn: 0}).drawn + 1;
    view.frames[message.channel] = {id: message.id, drawn, step: message.image.step,
      low: message.image.low, high: message.image.high};
    send({type: "ready", channel: message.channel});
  };
  picture.onerror = () => send({type: "ready", channel: message.channel});
  picture.src = `data:${message.image.mime};base64,${message.image.data}`;
  const set = (name, value) => { element.querySelector(`.${name}`).textContent = value; };
  set("id", message.id);
  set("size", `${message.nx} x ${message.ny}${message.nz ? " x " + message.nz : ""} ${message.colorMode}`);
  set("dtype", message.dtype + (message.compressed ? ` (${message.compressed})` : ""));
  set("shown", `${format(message.image.low)} .. ${format(message.image.high)}` +
    (message.image.step > 1 ? `, 1:${message.image.step}` : ""));
  counts(element, message);
  element.querySelector(".message").textContent = "";
  drawHistogram(element.querySelector("canvas.histogram"), message.histogram, message.image);
}

// fit: the whole frame in the panel's width and 70% of the window's height; else frame pixels times zoom
function shownWidth(panel, element, message, picture) {
  if (panel.zoom !== "fit") return message.nx * Number(panel.zoom);
  const box = element.querySelector(".picture");
  const byHeight = window.innerHeight * 0.7 * picture.width / picture.height;
  return Math.max(16, Math.floor(Math.min(box.clientWidth, byHeight)));
}

function format(value) {
  if (Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 1e5) return value.toFixed(3);  // times in seconds since the epoch, large sums
  return value !== 0 && Math.abs(value) < 1e-2 ? value.toExponential(2) : String(Math.round(value * 100) / 100);
}

function counts(element, message) {
  for (const name of ["rate", "received", "missed", "skipped", "errors"]) {
    const cell = element.querySelector(`.${name}`);
    if (cell) cell.textContent = message[name] === null ? "-" : message[name];
  }
  const label = element.querySelector(".received-label");
  if (label) label.textContent = message.missed === null ? "fetched" : "received";
}

function drawHistogram(canvas, histogram, image) {
  const context = canvas.getContext("2d");
  const {width, height} = canvas;
  context.clearRect(0, 0, width, height);
  const bins = histogram.counts, top = Math.max(1, ...bins);
  const barWidth = width / bins.length;
  context.fillStyle = "#4a5a70";
  bins.forEach((count, i) => {
    const barHeight = (height - 12) * Math.log1p(count) / Math.log1p(top);
    context.fillRect(i * barWidth, height - 12 - barHeight, Math.max(1, barWidth - 1), barHeight);
  });
  const [low, high] = histogram.range;
  const x = (value) => high > low ? (value - low) / (high - low) * width : 0;
  context.strokeStyle = "#d62728";
  for (const limit of [image.low, image.high]) {
    context.beginPath(); context.moveTo(x(limit), 0); context.lineTo(x(limit), height - 12); context.stroke();
  }
  context.fillStyle = "#1d232b"; context.font = "10px sans-serif";
  context.fillText(format(low), 0, height - 1);
  const highText = format(high);
  context.fillText(highText, width - context.measureText(highText).width, height - 1);
}

function channelCounts(message) {
  const panel = view.panels.get(message.channel);
  if (!panel) return;
  if (message.kind === "status") return statusPanel(panel, message);
  if (message.kind === "image") {
    if (panel.element) counts(panel.element, message);
    return;
  }
  if (message.kind === null) {
    const element = panelElement(panel, "status");
    element.querySelector(".message").textContent = "no value yet: is the channel served?";
    return;
  }
  if (message.kind === "other") {
    const element = panelElement(panel, "status");
    element.querySelector(".message").textContent =
      `not an image or status channel (its fields: ${message.fields.join(", ")})`;
  }
}

function statusPanel(panel, message) {
  const element = panelElement(panel, "status");
  element.querySelector(".message").textContent = "";
  const sections = element.querySelector(".sections");
  sections.textContent = "";
  const scalars = {};
  for (const [key, value] of Object.entries(message.status || {})) {
    if (value !== null && typeof value === "object") sections.appendChild(sectionTable(key, value));
    else scalars[key] = value;
  }
  sections.prepend(sectionTable("channel", scalars));
}

function sectionTable(name, values) {
  const table = document.createElement("table");
  table.dataset.section = name;
  table.createCaption().textContent = name;
  for (const [key, value] of Object.entries(values)) {
    const row = table.insertRow();
    row.insertCell().outerHTML = `<th>${escapeHtml(key)}</th>`;
    const cell = row.insertCell();
    cell.dataset.key = key;
    cell.textContent = typeof value === "number" && !Number.isInteger(value) ? format(value) : String(value);
  }
  return table;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function showError(message) {
  const panel = message.channel && view.panels.get(message.channel);
  if (panel && panel.element) panel.element.querySelector(".message").textContent = message.message;
  else console.warn("pvaflow view:", message.message);
}

// --- the pipeline ---

const ROW_KEYS = ["name", "kind", "state", "restarts", "rate", "received", "processed", "published", "queued",
  "missed", "errors"];

function pipeline(message) {
  view.pipeline = message;
  const body = document.querySelector("#stages tbody");
  const names = message.rows.map((row) => row.name).join("\n");
  if (body.dataset.stages !== names) {  // the rows are made once; later updates change their cells only
    body.textContent = "";
    body.dataset.stages = names;
    for (const row of message.rows) stageRow(body, row);
  }
  message.rows.forEach((row, index) => {
    const c = row.counts;
    const values = [row.name, row.kind + (row.nodes ? ` (${row.nodes})` : ""), row.state, row.restarts,
      row.rate === null ? "-" : row.rate.toFixed(1),
      ...ROW_KEYS.slice(5).map((key) => c ? c[key] : "-")];
    const cells = body.rows[index].cells;
    values.forEach((value, i) => {
      if (cells[i].textContent !== String(value)) cells[i].textContent = value;
    });
    cells[2].classList.toggle("failed", /FAILED|failed/.test(row.state));
  });
  drawRates(message.history);
}

function stageRow(body, row) {
  const line = body.insertRow();
  line.dataset.stage = row.name;
  for (const key of ROW_KEYS) line.insertCell().dataset.key = key;
  const channels = line.insertCell();
  for (const output of row.outputs) channels.appendChild(button(`image ${short(output)}`, output,
    () => openPanel(output)));
  for (const status of row.status) channels.appendChild(button(`status ${short(status)}`, status,
    () => openPanel(status)));
}

function short(channel) { return channel.split(":").slice(-2).join(":"); }

function button(text, title, onclick) {
  const element = document.createElement("button");
  element.textContent = text; element.title = title; element.onclick = onclick;
  element.dataset.channel = title;
  return element;
}

function drawRates(history) {
  const canvas = document.getElementById("rates");
  const context = canvas.getContext("2d");
  const {width, height} = canvas;
  context.clearRect(0, 0, width, height);
  const names = Object.keys(history);
  const points = names.flatMap((name) => history[name]);
  if (!points.length) return;
  const span = Math.max(60, ...points.map(([t]) => -t));
  const top = Math.max(1, ...points.map(([, rate]) => rate)) * 1.1;
  const x = (t) => 40 + (1 + t / span) * (width - 50), y = (rate) => height - 20 - rate / top * (height - 30);
  context.strokeStyle = "#ccd"; context.fillStyle = "#556"; context.font = "10px sans-serif";
  context.strokeRect(40, 10, width - 50, height - 30);
  context.fillText(format(top), 2, 14);
  context.fillText("0", 28, height - 20);
  context.fillText(`-${Math.round(span)} s`, 40, height - 6);
  context.fillText("now", width - 30, height - 6);
  const legend = document.getElementById("rates-legend");
  legend.textContent = "processing rate (Hz), last minutes: ";
  names.forEach((name, i) => {
    const colour = LINE_COLOURS[i % LINE_COLOURS.length];
    context.strokeStyle = colour; context.lineWidth = 1.5;
    context.beginPath();
    history[name].forEach(([t, rate], j) => (j ? context.lineTo(x(t), y(rate)) : context.moveTo(x(t), y(rate))));
    context.stroke();
    const key = document.createElement("span");
    key.style.color = colour; key.textContent = `\u25a0 ${name}`;
    legend.appendChild(key);
  });
}

// what the tests read: one pixel of a channel's canvas as [r, g, b, a]
view.pixel = (channel, x, y) => {
  const panel = view.panels.get(channel);
  const canvas = panel && panel.element && panel.element.querySelector("canvas.image");
  return canvas ? Array.from(canvas.getContext("2d").getImageData(x, y, 1, 1).data) : null;
};

connect();
