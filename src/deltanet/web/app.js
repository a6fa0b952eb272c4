// The page of `deltanet serve`: draw a digit (or fill in the features), see the top 3.
//
// Every change of the drawing bumps a version; one request is in flight at a time, and
// when it comes back with the drawing changed since, the newest drawing is sent next.
// So the chart follows the pen as fast as the server answers, without a queue.
// <body data-version> is the newest drawing and <body data-shown> the one the chart
// shows: equal when the page is up to date (the browser test waits for that).
"use strict";

const MAX_FIELDS = 64; // more features than this: the page points to the API instead
const TOP = 3;
const $ = (id) => document.getElementById(id);

const state = {
  model: null,
  version: 0,
  busy: false,
  source: null, // () => Promise<[body, contentType] | null>: what the next request sends
};

document.addEventListener("DOMContentLoaded", start);

async function start() {
  try {
    const response = await fetch("/api/model");
    state.model = await response.json();
  } catch (err) {
    say(`cannot reach the server: ${err}`);
    return;
  }
  $("about").textContent = describe(state.model);
  const input = state.model.input;
  if (input.kind === "digit") {
    setUpDrawing();
  } else if (input.shape === null && input.features <= MAX_FIELDS) {
    setUpForm(input.features);
  } else {
    setUpApiOnly(input);
  }
  document.body.dataset.ready = "1"; // drawing and the form work from now on
}

function describe(model) {
  const parts = [`${model.name} network`, `${model.classes.length} classes`];
  if (model.test_error !== null) {
    parts.push(`test error ${(100 * model.test_error).toFixed(2)}%`);
  }
  return parts.join(" · ");
}

// ---------------------------------------------------------------- drawing

function setUpDrawing() {
  const canvas = $("canvas");
  const pen = canvas.getContext("2d");
  for (const id of ["digit", "seen-panel", "answer"]) $(id).hidden = false;
  wipe(pen, canvas);
  let last = null;

  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - box.left) * canvas.width) / box.width,
      y: ((event.clientY - box.top) * canvas.height) / box.height,
    };
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    last = at(event);
    stroke(pen, last, last);
    drawn(canvasSource(canvas));
  });
  canvas.addEventListener("pointermove", (event) => {
    if (last === null) return;
    const here = at(event);
    stroke(pen, last, here);
    last = here;
    drawn(canvasSource(canvas));
  });
  for (const type of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(type, () => {
      last = null;
    });
  }
  $("clear").addEventListener("click", () => {
    wipe(pen, canvas);
    $("upload").value = "";
    drawn(null);
  });
  $("upload").addEventListener("change", async () => {
    const file = $("upload").files[0];
    if (!file) return;
    // the file itself is sent, at once; the canvas shows it when the browser has read it
    drawn(async () => [file, file.type || "application/octet-stream"]);
    await show(pen, canvas, file);
  });
}

function wipe(pen, canvas) {
  pen.fillStyle = "#fff";
  pen.fillRect(0, 0, canvas.width, canvas.height);
}

function stroke(pen, from, to) {
  // about as thick, for the 20×20 box the digit is scaled into, as MNIST's pen strokes
  pen.strokeStyle = "#000";
  pen.lineWidth = 20;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(from.x, from.y);
  pen.lineTo(to.x, to.y);
  pen.stroke();
}

async function show(pen, canvas, file) {
  // the uploaded picture, fitted into the canvas, so one sees what was sent
  try {
    const picture = await createImageBitmap(file);
    const scale = Math.min(canvas.width / picture.width, canvas.height / picture.height);
    const w = picture.width * scale;
    const h = picture.height * scale;
    wipe(pen, canvas);
    pen.drawImage(picture, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
  } catch {
    wipe(pen, canvas); // not a picture the browser reads: the server will say why
  }
}

function canvasSource(canvas) {
  // toDataURL, not toBlob: Chromium may put off toBlob's encoding until the page is idle
  return async () => {
    const bytes = atob(canvas.toDataURL("image/png").split(",")[1]);
    return [Uint8Array.from(bytes, (c) => c.charCodeAt(0)), "image/png"];
  };
}

// ---------------------------------------------------------------- features

function setUpForm(count) {
  for (const id of ["features", "answer"]) $(id).hidden = false;
  const standardized = state.model.input.standardized;
  $("features-note").textContent =
    `This model takes ${count} numbers, in the units it was trained on` +
    (standardized ? " (it standardizes them itself)." : ".");
  const fields = $("fields");
  const names = state.model.input.names;
  for (let i = 0; i < count; i++) {
    const label = document.createElement("label");
    label.textContent = names ? names[i] : `feature ${i + 1}`;
    const input = document.createElement("input");
    Object.assign(input, { type: "number", step: "any", required: true, name: `f${i}` });
    label.append(input);
    fields.append(label);
  }
  $("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const values = Array.from(fields.querySelectorAll("input"), (i) => Number(i.value));
    drawn(async () => [JSON.stringify(values), "application/json"]);
  });
}

function setUpApiOnly(input) {
  const count = input.features;
  $("api-only").hidden = false;
  $("api-only-text").textContent =
    (input.shape === null
      ? `This model takes rows of ${count} numbers: too many for a form. `
      : `This model takes ${input.shape.join("×")} pictures as rows of ${count} numbers; ` +
        "this page draws only 28×28 digits. ") + "Send them to the JSON API as an array:";
  $("api-only-example").textContent =
    `curl -X POST -H 'Content-Type: application/json' \\\n` +
    `     --data '[${Array(Math.min(count, 3)).fill("0.0").join(", ")}, …]' \\\n` +
    `     ${location.origin}/api/predict`;
}

// ---------------------------------------------------------------- asking the server

function drawn(source) {
  state.version += 1;
  document.body.dataset.version = state.version;
  state.source = source;
  if (source === null) {
    // nothing to classify: the chart and the 28×28 input go blank at once
    answer(null, state.version);
  } else if (!state.busy) {
    send();
  }
}

async function send() {
  state.busy = true;
  const version = state.version;
  let result = null;
  try {
    const [body, type] = await state.source();
    const response = await fetch("/api/predict?with_input=true", {
      method: "POST",
      headers: { "Content-Type": type },
      body,
    });
    result = await response.json();
  } catch (err) {
    result = { error: `no answer from the server (${err})` };
  }
  state.busy = false;
  if (state.source === null) return; // cleared while asking: the page stays blank
  answer(result, version);
  if (state.version !== version) send();
}

function answer(result, version) {
  const bars = $("bars");
  bars.replaceChildren();
  say(result && result.error ? result.error : "");
  const ok = result && !result.error;
  if (ok) {
    for (const entry of result.classes.slice(0, TOP)) bars.append(bar(entry));
    bars.dataset.top = String(result.label);
  } else {
    delete bars.dataset.top;
  }
  seen(ok ? result.input : null);
  document.body.dataset.shown = version;
}

function bar(entry) {
  const probability = "probability" in entry;
  const value = probability ? entry.probability : entry.score;
  const item = document.createElement("li");
  const label = document.createElement("span");
  label.className = String(entry.label).length > 2 ? "label word" : "label";
  label.textContent = String(entry.label);
  const track = document.createElement("div");
  track.className = "track";
  const fill = document.createElement("div");
  fill.className = "bar";
  fill.style.width = `${(100 * Math.min(Math.max(value, 0), 1)).toFixed(1)}%`;
  track.append(fill);
  const text = document.createElement("span");
  text.className = "value";
  text.textContent = probability ? `${(100 * value).toFixed(1)}%` : value.toFixed(3);
  item.append(label, track, text);
  return item;
}

function seen(rows) {
  const canvas = $("seen");
  const pen = canvas.getContext("2d");
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, canvas.width, canvas.height);
  if (!rows) return;
  const image = pen.createImageData(canvas.width, canvas.height);
  rows.flat().forEach((v, i) => {
    const grey = Math.round(255 * Math.min(Math.max(v, 0), 1));
    image.data.set([grey, grey, grey, 255], 4 * i);
  });
  pen.putImageData(image, 0, 0);
}

function say(text) {
  $("message").textContent = text;
}
