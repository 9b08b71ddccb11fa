// casefleet operator dashboard. Plain JavaScript, no outside assets: the
// kiosk's LAN may have no internet. The server sends the whole state on
// every change (server-sent events); this script draws it and sends the
// operator's actions. Text from the server is only ever set as text.
"use strict";

const API = "/operator/api";
const STAGES = {
  queued: "Waiting in line",
  sending: "Sending to printer",
  sent: "Sent to printer",
  awaiting_payment: "Waiting for payment at the kiosk",
  unknown_outcome: "Unknown: did it print? Check the printer",
  paid: "Paid, about to print",
  printing: "Printing",
};
const PRINTER = {
  online: ["Ready", "state-ok"],
  printing: ["Printing", "state-info"],
  offline: ["Offline", "state-bad"],
  error: ["Needs attention", "state-bad"],
};
const INK = { ok: ["OK", "lvl-ok"], low: ["Low", "lvl-low"], unknown: ["Unknown", "lvl-unknown"] };

let state = null;
let clockOffset = 0; // server time minus this device's time
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") n.className = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v);
  }
  for (const c of children) if (c != null) n.append(c);
  return n;
}

function now() { return Date.now() + clockOffset; }

function ago(iso) {
  const s = Math.max(0, Math.round((now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min";
  const h = Math.floor(m / 60);
  return h + " h " + (m % 60) + " min";
}

function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function shortId(id) { return id.slice(0, 8); }

function orderLabel(o) {
  const frag = el("span", {}, el("span", { class: "order-id", title: o.id }, shortId(o.id)));
  if (o.pickupCode) frag.append(el("span", { class: "pickup", title: "Pickup code the customer sees" }, o.pickupCode));
  return frag;
}

function stageChip(o) {
  let cls = "stage";
  if (o.stage === "printing") cls += " stage-printing";
  else if (o.unknown) cls += " stage-unknown";
  else if (o.atMachine) cls += " stage-machine";
  return el("span", { class: cls }, STAGES[o.stage] || o.stage);
}

// Ages tick every second without waiting for the server.
function age(iso) { return el("span", { "data-since": iso }, ago(iso)); }
setInterval(() => {
  for (const n of document.querySelectorAll("[data-since]")) n.textContent = ago(n.dataset.since);
  if (state) drawContact(state.machine);
}, 1000);

// setState sets a status line's words and its colour class.
function setState(node, text, cls) {
  node.className = cls;
  node.querySelector(".state-text").textContent = text;
}

// A state arrives every few seconds. The parts with buttons in them are
// drawn anew only when what they show changes, as drawing them makes new
// buttons, and the focus of a keyboard user on one would fall to the page.
const drawn = {};
function unchanged(part, data) {
  const key = JSON.stringify(data);
  if (drawn[part] === key) return true;
  drawn[part] = key;
  return false;
}

function draw(s) {
  // An order's button with the focus before a redraw has it after, as long
  // as the order is still shown.
  const focused = document.activeElement && document.activeElement.getAttribute("aria-label");
  state = s;
  clockOffset = Date.parse(s.serverTime) - Date.now();
  const m = s.machine;
  document.title = (m.name || m.code) + " · Operator dashboard";
  $("machine-name").textContent = m.name || m.code;
  $("machine-code").textContent = m.code;
  $("machine-location").textContent = m.location || "";
  $("version").textContent = s.version ? "Agent " + s.version : "";

  const problems = $("problems");
  problems.hidden = !(s.problems && s.problems.length);
  problems.textContent = (s.problems || []).join(" ");

  // Printer and ink. "printing" means an order is at the machine; until
  // the customer has paid it is busy rather than printing.
  let [ptext, pcls] = PRINTER[m.status] || ["Unknown", "state-muted"];
  const current = s.queue.find((o) => o.atMachine);
  const detail = [];
  if (m.status === "printing" && current && current.stage !== "printing") {
    ptext = "Busy";
    detail.push("An order is at the printer: " + (STAGES[current.stage] || current.stage).toLowerCase() + ".");
  }
  setState($("printer-status"), ptext, "state " + pcls);
  if (m.lastError) detail.push("Last error: " + m.lastError);
  $("printer-detail").textContent = detail.join(" ");
  for (const li of $("ink").children) {
    const level = (m.inkLevels || {})[li.dataset.colour] || "unknown";
    const [t, c] = INK[level] || INK.unknown;
    const b = li.querySelector(".level");
    b.textContent = t;
    b.className = "level " + c;
  }

  // Queue summary and pause.
  const waiting = s.queue.filter((o) => !o.atMachine).length;
  $("queue-count").textContent = String(waiting);
  $("queue-count-label").textContent = waiting === 1 ? "order waiting" : "orders waiting";
  $("queue-wait").textContent = m.estimatedWaitSeconds
    ? "A new order would wait about " + Math.max(1, Math.round(m.estimatedWaitSeconds / 60)) + " min."
    : "";
  const pause = $("pause-btn");
  pause.textContent = m.paused ? "Resume queue" : "Pause queue";
  pause.className = "big " + (m.paused ? "resume" : "pause");
  pause.setAttribute("aria-pressed", m.paused ? "true" : "false");
  $("paused-banner").hidden = !m.paused;
  $("queue-full").hidden = !s.full;

  drawConnections(s);
  drawCurrent(s);
  drawQueue(s);
  drawFailures(s);
  drawNozzle(s.nozzle);
  drawQR(s.qr);
  if (focused && document.activeElement === document.body) {
    const again = [...document.querySelectorAll("button[aria-label]")].find((b) => b.getAttribute("aria-label") === focused);
    if (again) again.focus();
  }
}

function drawConnections(s) {
  const t = s.tunnel, tn = $("tunnel");
  if (!t.configured) setState(tn, "Not set up (relay.url is empty)", "muted");
  else if (!t.reported) setState(tn, "Connecting…", "warn");
  else if (t.connected) setState(tn, "Connected" + (t.since ? " since " + clock(t.since) : ""), "ok");
  else if (t.rejected) setState(tn, "Refused by the relay: " + (t.error || "") + " The kiosk needs a new enrollment token.", "bad");
  else setState(tn, "Down" + (t.since ? " since " + clock(t.since) : "") + (t.error ? ". " + relayReason(t.error) : ""), "bad");
  // The raw error is for whoever fixes it, behind a disclosure.
  const raw = !t.connected && t.error ? t.error : "";
  $("tunnel-more").hidden = !raw;
  $("tunnel-error").textContent = raw;
  const mq = s.machine.mqttConnected;
  setState($("mqtt"), mq ? "Connected" : "Down: order updates from the printer are delayed", mq ? "ok" : "bad");
  drawContact(s.machine);
  drawUpdate(s.update);
}

// drawUpdate shows the agent's version and its own update: off, offered,
// downloading, waiting for an empty line, installing, or how the last one
// ended (the summary is the agent's, the same line as `casefleet-agent
// status` prints).
function drawUpdate(u) {
  $("update-h").hidden = $("update").hidden = !u;
  if (!u) return;
  let cls = "ok";
  if (u.attention) cls = "bad";
  else if (["downloading", "ready", "installing"].includes(u.state)) cls = "warn";
  else if (u.state === "off" || !u.state) cls = "muted";
  setState($("update"), "Agent " + u.version + ": " + u.summary, cls);
}

// relayReason says in words why the relay cannot be reached, from the
// tunnel's Go error chain ("dial relay ...: failed to WebSocket dial: ...:
// connect: connection refused"), whose last part is the cause.
function relayReason(err) {
  const e = err.toLowerCase();
  const causes = [
    ["connection refused", "connection refused"],
    ["no such host", "its name is not known (DNS)"],
    ["network is unreachable", "no network"],
    ["no route to host", "no route to it"],
    ["certificate", "its certificate is not trusted"],
    ["timeout", "no answer in time"],
    ["deadline exceeded", "no answer in time"],
    ["connection reset", "the connection was cut"],
  ];
  const found = causes.find(([k]) => e.includes(k));
  const cause = found ? found[1] : err.split(": ").pop();
  return "The relay cannot be reached: " + cause;
}

function drawContact(m) {
  $("contact").textContent = m.lastContact ? ago(m.lastContact) + " ago" : "Not yet";
}

function cancelButton(o) {
  return el("button", { type: "button", class: "small", onclick: () => cancelOrder(o), "aria-label": "Cancel order " + shortId(o.id) }, "Cancel");
}

// An order of unknown outcome waits for the staff: look at the printer
// (and its screen's order list), then say what happened.
function unknownButtons(o) {
  const id = shortId(o.id);
  return [
    el("button", { type: "button", class: "small", onclick: () => markPrinted(o), "aria-label": "Order " + id + " printed" }, "Printed"),
    el("button", { type: "button", class: "small", onclick: () => retryOrder(o), "aria-label": "Retry order " + id }, "Retry"),
    cancelButton(o),
  ];
}

function drawCurrent(s) {
  const box = $("current");
  const o = s.queue.find((x) => x.atMachine);
  if (unchanged("current", o || null)) return;
  if (!o) {
    box.replaceChildren(el("p", { class: "muted" }, "Nothing at the printer."));
    return;
  }
  box.replaceChildren(el("div", { class: "current-order" },
    el("span", { class: "big-id" }, orderLabel(o)),
    stageChip(o),
    el("span", { class: "muted" }, "sent ", o.sentAt ? age(o.sentAt) : "–", " ago · ordered ", age(o.createdAt), " ago"),
    cancelButton(o)));
}

function drawQueue(s) {
  const waiting = s.queue.filter((o) => !o.atMachine);
  if (unchanged("queue", waiting)) return;
  const rows = waiting.map((o) => el("tr", {},
    el("td", {}, String(o.position || "")),
    el("td", {}, orderLabel(o)),
    el("td", {}, stageChip(o)),
    el("td", {}, age(o.createdAt)),
    el("td", {}, String(o.attempts)),
    el("td", { class: "actions" }, ...(o.unknown ? unknownButtons(o) : [cancelButton(o)]))));
  $("queue-body").replaceChildren(...rows);
  $("queue-table").hidden = rows.length === 0;
  $("queue-empty").hidden = rows.length > 0;
}

function drawFailures(s) {
  if (unchanged("failures", [s.failures, s.canRetry])) return;
  const rows = s.failures.map((o) => el("tr", {},
    el("td", {}, o.completedAt ? clock(o.completedAt) : ""),
    el("td", {}, orderLabel(o)),
    el("td", { class: "reason" }, o.failureReason || "No reason given."),
    el("td", { class: "actions" }, s.canRetry
      ? el("button", { type: "button", class: "small", onclick: () => retryOrder(o), "aria-label": "Retry order " + shortId(o.id) }, "Retry")
      : null)));
  $("fail-body").replaceChildren(...rows);
  $("fail-table").hidden = rows.length === 0;
  $("fail-empty").hidden = rows.length > 0;
}

function drawNozzle(n) {
  const p = $("nozzle-status"), b = $("clean-btn");
  b.disabled = n.state === "cleaning";
  b.textContent = n.state === "cleaning" ? "Cleaning…" : "Clean nozzles";
  const texts = {
    cleaning: ["Cleaning asked for at " + (n.requestedAt ? clock(n.requestedAt) : "") + "; waiting for the printer's answer…", "info-text"],
    done: ["Nozzles cleaned at " + (n.answeredAt ? clock(n.answeredAt) : "") + ".", "ok-text"],
    failed: ["The printer could not clean its nozzles (" + (n.answeredAt ? clock(n.answeredAt) : "") + "). Check the printer.", "bad-text"],
    no_answer: ["The printer did not answer the cleaning. Check that it is online and try again.", "warn-text"],
  };
  const [t, c] = texts[n.state] || ["", ""];
  p.textContent = t;
  p.className = "note " + c;
}

let qrShown = null;
function drawQR(q) {
  const img = $("qr-img");
  $("qr-url").textContent = q.url || "";
  $("qr-error").hidden = !q.error;
  $("qr-error").textContent = q.error || "";
  $("qr-links").hidden = !q.url;
  $("qr-show").hidden = !q.url;
  img.hidden = !q.url;
  if (q.url && q.url !== qrShown) {
    qrShown = q.url;
    img.src = API + "/qr.svg?for=" + encodeURIComponent(q.url);
    $("qr-png").setAttribute("download", state.machine.code + "-qr.png");
    $("qr-svg").setAttribute("download", state.machine.code + "-qr.svg");
  }
}

function toast(text, kind) {
  const t = el("div", { class: "toast" + (kind === "error" ? " error" : "") }, text);
  $("toasts").append(t);
  setTimeout(() => t.remove(), kind === "error" ? 9000 : 5000);
}

// post sends an action. The header proves the request comes from this
// page (a form on another site cannot set it).
async function post(path) {
  let res;
  try {
    res = await fetch(API + path, { method: "POST", credentials: "same-origin", headers: { "X-Casefleet-Operator": "1" } });
  } catch (e) {
    toast("The kiosk did not answer. Check the network and try again.", "error");
    return null;
  }
  if (res.status === 401) { location.href = "/operator/login"; return null; }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    toast((body.error && body.error.message) || "That did not work (" + res.status + ").", "error");
    return null;
  }
  return body;
}

function confirmAction(title, text, yes) {
  const d = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "yes"), { once: true });
    d.returnValue = "";
    d.showModal();
    $("confirm-no").focus();
  });
}

async function togglePause() {
  const paused = state && state.machine.paused;
  const r = await post(paused ? "/resume" : "/pause");
  if (r) toast(r.paused ? "Queue paused. No new order goes to the printer." : "Queue resumed.");
  refresh();
}

async function cancelOrder(o) {
  const text = o.atMachine
    ? "Order " + shortId(o.id) + " has already been sent to the machine. Cancelling removes it from the queue, but the machine may still print it if the customer pays there."
    : "Order " + shortId(o.id) + " is waiting in line. The customer will see that the staff cancelled it.";
  if (!(await confirmAction("Cancel this order?", text, "Cancel order"))) return;
  const r = await post("/orders/" + encodeURIComponent(o.id) + "/cancel");
  if (r) toast(r.warning || "Order " + shortId(o.id) + " cancelled.");
  refresh();
}

async function retryOrder(o) {
  if (!(await confirmAction("Retry this order?", "Order " + shortId(o.id) + " goes back to the head of the line and is sent to the printer again.", "Retry order"))) return;
  const r = await post("/orders/" + encodeURIComponent(o.id) + "/retry");
  if (r) toast("Order " + shortId(o.id) + " is back in line.");
  refresh();
}

async function markPrinted(o) {
  if (!(await confirmAction("Mark this order printed?", "Only if the printer printed order " + shortId(o.id) + " (its case is there, or the printer's screen lists it as done). The customer is told their case is ready.", "Mark printed"))) return;
  const r = await post("/orders/" + encodeURIComponent(o.id) + "/printed");
  if (r) toast("Order " + shortId(o.id) + " marked printed.");
  refresh();
}

async function cleanNozzles() {
  if (!(await confirmAction("Clean the print head?", "The printer cleans its nozzles now. It takes about a minute and uses a little ink.", "Clean nozzles"))) return;
  const r = await post("/nozzle/clean");
  if (r) toast("Cleaning asked for. The answer shows here when the printer replies.");
  refresh();
}

async function showQROnMachine() {
  const r = await post("/qr/show");
  if (r) toast("The machine's screen now shows this QR code.");
}

async function refresh() {
  try {
    const res = await fetch(API + "/state", { credentials: "same-origin" });
    if (res.status === 401) { location.href = "/operator/login"; return; }
    if (res.ok) { setAway(false); draw(await res.json()); }
  } catch (e) { /* the live stream reports the outage */ }
}

// setAway greys the page out and disables its buttons while the agent
// does not answer: what it shows may be stale, and an action would fail.
// The next state brings it back (draw sets the buttons it keeps disabled).
function setAway(away) {
  document.body.classList.toggle("away", away);
  $("away-banner").hidden = !away;
  for (const b of document.querySelectorAll("main button")) b.disabled = away;
}

function live() {
  const pill = $("live");
  const es = new EventSource(API + "/events");
  es.addEventListener("state", (e) => {
    setAway(false);
    draw(JSON.parse(e.data));
    pill.textContent = "Live";
    pill.className = "pill pill-ok";
  });
  es.onerror = () => {
    pill.textContent = "Reconnecting…";
    pill.className = "pill pill-warn";
    setAway(true);
    refresh(); // sends a logged-out operator to the login page
  };
}

document.addEventListener("DOMContentLoaded", () => {
  $("pause-btn").addEventListener("click", togglePause);
  $("clean-btn").addEventListener("click", cleanNozzles);
  $("qr-show").addEventListener("click", showQROnMachine);
  refresh();
  live();
});
