// The studio: write an outline (or paste a document, or name a topic), follow the run's
// progress stream, watch the video, and edit the deck to re-render it. Plain ES module, no
// build step; every request goes to this service's own API.
import { ANIMATIONS, STEPS } from "./contract.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "videoforge.token";
const FINAL = new Set(["completed", "error", "cancelled"]);
const SYNTHETIC = new Set(["connected", "waiting", "done"]); // stream messages with a borrowed id
const BY_ANIMATION = Object.fromEntries(ANIMATIONS.map((a) => [a.name, a]));

const state = {
  mode: "outline", // which tab the form sends
  editing: null, // the generation id whose deck the editor holds, when re-rendering
  current: null, // {gid, runId} of the run shown in the progress panel
  source: null, // the open EventSource
  lastId: 0, // the id of the last stored event shown: a reconnect never shows one twice
  finished: false,
  cardSerial: 0,
};

// --- small helpers -------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null) node.append(child);
  return node;
}

function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

// URL for what a browser loads by itself (EventSource, <video>, <track>, <img>): ?token=.
function mediaUrl(path, extra = {}) {
  const params = new URLSearchParams(extra);
  if (token()) params.set("token", token());
  const query = params.toString();
  return query ? `${path}?${query}` : path;
}

class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && (body.detail || body.title)) || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.body = body || {};
  }
}

// Call the API with the token as a Bearer header; throw ApiError with the API's detail.
// A FormData body (a deck upload) goes as multipart/form-data, with the browser's boundary.
async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = {};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const form = body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, { detail: `the server cannot be reached (${err.message})` });
  }
  if (!resp.ok) {
    let data = null;
    try {
      data = await resp.json();
    } catch {
      data = { detail: `${resp.status} ${resp.statusText}` };
    }
    throw new ApiError(resp.status, data);
  }
  return raw ? resp : resp.json();
}

function clock(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(1).padStart(4, "0");
  return `${m}:${rest}`;
}

function lines(text) {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
}

function showFormError(message) {
  $("form-error").textContent = message || "";
}

// --- the token ------------------------------------------------------------------------------------

function setUpToken() {
  $("token").value = token();
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("token").value.trim();
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
    $("token-save").textContent = "Saved";
    setTimeout(() => ($("token-save").textContent = "Save"), 1500);
    loadChoices();
    loadHistory();
  });
}

// --- tabs -----------------------------------------------------------------------------------------

const TABS = ["outline", "document", "topic", "deck"];
const OTHER_TABS = TABS.slice(1); // what an edit of a finished run cannot switch to

function selectTab(name, focus = false) {
  state.mode = name;
  for (const tab of TABS) {
    const button = $(`tab-${tab}`);
    const chosen = tab === name;
    button.setAttribute("aria-selected", String(chosen));
    button.tabIndex = chosen ? 0 : -1;
    $(`pane-${tab}`).hidden = !chosen;
    if (chosen && focus) button.focus();
  }
}

function setUpTabs() {
  for (const tab of TABS) {
    $(`tab-${tab}`).addEventListener("click", () => selectTab(tab));
    $(`tab-${tab}`).addEventListener("keydown", (ev) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (!step) return;
      ev.preventDefault();
      const next = TABS[(TABS.indexOf(tab) + step + TABS.length) % TABS.length];
      if (!state.editing || next === "outline") selectTab(next, true);
    });
  }
}

// --- the outline editor ---------------------------------------------------------------------------

function field(card, name) {
  return card.querySelector(`[name="${name}"]`);
}

function labelled(id, text, control) {
  return el("div", { class: "field" }, el("label", { for: id, text }), control);
}

function animationFields(serial, spec) {
  const box = el("div", { class: "anim-fields" });
  const kind = BY_ANIMATION[spec.type];
  if (!kind) return box;
  if (!kind.fields.length) {
    box.append(el("p", { class: "hint", text: "The slide's bullets appear one by one as they are spoken." }));
  }
  for (const f of kind.fields) {
    const id = `s${serial}-anim-${f.name}`;
    const name = `anim-${f.name}`;
    const value = spec[f.name];
    const range = f.count ? ` (${f.count[0]}-${f.count[1]}, one a line)` : "";
    let control;
    let text = f.name.replace("_", " ") + range + (f.optional ? " (optional)" : "");
    if (f.kind === "strings") {
      control = el("textarea", { id, name, rows: 3 });
      control.value = (value || []).join("\n");
    } else if (f.kind === "numbers") {
      text = `${f.name} (one number a line, one per label)`;
      control = el("textarea", { id, name, rows: 3, inputmode: "decimal" });
      control.value = (value || []).join("\n");
    } else if (f.kind === "events") {
      text = `events${range.replace("one a line", "one a line: when: label")}`;
      control = el("textarea", { id, name, rows: 3, placeholder: "1950: Idea\n1989: Web" });
      control.value = (value || []).map((e) => `${e.when}: ${e.label}`).join("\n");
    } else if (f.kind === "number") {
      control = el("input", { id, name, type: "number", step: "any" });
      control.value = value ?? "";
    } else {
      control = el("input", { id, name, placeholder: f.kind === "formula" ? "sin(x) * x^2" : "" });
      control.value = value ?? "";
    }
    box.append(labelled(id, text, control));
  }
  return box;
}

function readAnimation(card) {
  const type = field(card, "anim-type").value;
  const spec = { type };
  for (const f of BY_ANIMATION[type].fields) {
    const raw = field(card, `anim-${f.name}`).value;
    if (f.kind === "strings") spec[f.name] = lines(raw);
    else if (f.kind === "numbers") spec[f.name] = lines(raw).map(Number);
    else if (f.kind === "events")
      spec[f.name] = lines(raw).map((line) => {
        const at = line.indexOf(":");
        return at < 0
          ? { when: "", label: line }
          : { when: line.slice(0, at).trim(), label: line.slice(at + 1).trim() };
      });
    else if (f.kind === "number") spec[f.name] = raw.trim() === "" ? null : Number(raw);
    else if (raw.trim() || !f.optional) spec[f.name] = raw.trim();
  }
  return spec;
}

function showVisualFields(card) {
  const visual = field(card, "visual").value;
  card.querySelector(".picture-box").hidden = visual !== "picture";
  card.querySelector(".anim-box").hidden = visual !== "animation";
}

function slideCard(slide = {}) {
  const n = ++state.cardSerial;
  const id = (name) => `s${n}-${name}`;
  const card = el("li", { class: "slide-card" });
  if (slide.deck_slide) card.dataset.deckSlide = String(slide.deck_slide); // its page of an uploaded deck
  const legend = el("legend", { class: "slide-legend" });
  const title = el("input", { id: id("title"), name: "title", maxlength: 200, required: true });
  title.value = slide.title || "";
  const bullets = el("textarea", { id: id("bullets"), name: "bullets", rows: 3 });
  bullets.value = (slide.bullets || []).join("\n");
  const narration = el("textarea", { id: id("narration"), name: "narration", rows: 3 });
  narration.value = slide.narration || "";
  const visual = el(
    "select",
    { id: id("visual"), name: "visual" },
    el("option", { value: "text", text: "Text slide" }),
    el("option", { value: "picture", text: "Picture" }),
    el("option", { value: "animation", text: "Animation" }),
  );
  visual.value = slide.animation ? "animation" : slide.image ? "picture" : "text";
  const image = el("input", { id: id("image"), name: "image", maxlength: 200, placeholder: "volcano" });
  image.value = slide.image || "";
  const spec = slide.animation || { type: "flow" };
  const animType = el(
    "select",
    { id: id("anim-type"), name: "anim-type" },
    ...ANIMATIONS.map((a) => el("option", { value: a.name, text: a.name.replace("_", " ") })),
  );
  animType.value = spec.type in BY_ANIMATION ? spec.type : "flow";
  const animBox = el(
    "div",
    { class: "anim-box" },
    labelled(id("anim-type"), "Animation type", animType),
    animationFields(n, spec),
  );
  animType.addEventListener("change", () => {
    animBox.querySelector(".anim-fields").replaceWith(animationFields(n, { type: animType.value }));
  });
  visual.addEventListener("change", () => showVisualFields(card));
  const tools = el(
    "div",
    { class: "card-tools" },
    el("button", { type: "button", class: "ghost small", "data-action": "up", text: "↑ Up" }),
    el("button", { type: "button", class: "ghost small", "data-action": "down", text: "↓ Down" }),
    el("button", { type: "button", class: "ghost small danger-text", "data-action": "delete", text: "Delete" }),
  );
  card.append(
    el(
      "fieldset",
      {},
      legend,
      tools,
      labelled(id("title"), "Title", title),
      labelled(id("bullets"), "Bullets (one a line)", bullets),
      labelled(id("narration"), "Narration (what is spoken; empty: the title and bullets)", narration),
      labelled(id("visual"), "Shows", visual),
      el("div", { class: "picture-box" }, labelled(id("image"), "Picture (a search phrase)", image)),
      animBox,
    ),
  );
  showVisualFields(card);
  return card;
}

function renumber() {
  const cards = [...$("editor").children];
  cards.forEach((card, i) => {
    card.querySelector(".slide-legend").textContent = `Slide ${i + 1}`;
    const label = (action, text) =>
      card.querySelector(`[data-action="${action}"]`).setAttribute("aria-label", `${text} slide ${i + 1}`);
    label("up", "Move up");
    label("down", "Move down");
    label("delete", "Delete");
    card.querySelector('[data-action="up"]').disabled = i === 0;
    card.querySelector('[data-action="down"]').disabled = i === cards.length - 1;
    card.querySelector('[data-action="delete"]').disabled = cards.length === 1;
  });
  $("add-slide").disabled = cards.length >= 30;
}

function setSlides(slides) {
  $("editor").replaceChildren(...(slides.length ? slides : [{}]).map(slideCard));
  renumber();
}

function setUpEditor() {
  $("add-slide").addEventListener("click", () => {
    const card = slideCard();
    $("editor").append(card);
    renumber();
    field(card, "title").focus();
  });
  $("editor").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (!button) return;
    const card = button.closest(".slide-card");
    const action = button.dataset.action;
    if (action === "up" && card.previousElementSibling) {
      card.previousElementSibling.before(card);
    } else if (action === "down" && card.nextElementSibling) {
      card.nextElementSibling.after(card);
    } else if (action === "delete") {
      const next = card.nextElementSibling || card.previousElementSibling;
      card.remove();
      renumber();
      if (next) field(next, "title").focus();
      return;
    }
    renumber();
    (button.disabled ? card.querySelector("button:not(:disabled)") : button).focus();
  });
  setSlides([{}]);
}

function readSlides() {
  return [...$("editor").children].map((card, i) => {
    const slide = {
      title: field(card, "title").value.trim(),
      bullets: lines(field(card, "bullets").value),
    };
    if (!slide.title) throw new Error(`Slide ${i + 1} needs a title.`);
    const narration = field(card, "narration").value.trim();
    if (narration) slide.narration = narration;
    const visual = field(card, "visual").value;
    if (visual === "picture" && field(card, "image").value.trim())
      slide.image = field(card, "image").value.trim();
    if (visual === "animation") slide.animation = readAnimation(card);
    if (card.dataset.deckSlide) slide.deck_slide = Number(card.dataset.deckSlide);
    return slide;
  });
}

// --- choices: voices, and the enums of the API description -------------------------------------

async function loadChoices() {
  try {
    const voices = await api("/api/voices");
    const select = $("voice");
    select.replaceChildren(
      ...voices.voices.map((v) => {
        const langs = Array.isArray(v.languages) ? v.languages.join(", ") : "any language";
        return el("option", { value: v.id, text: `${v.id} (${langs})` });
      }),
    );
    select.value = voices.default;
    const names = new Set(["english"]);
    for (const v of voices.voices) if (Array.isArray(v.languages)) v.languages.forEach((l) => names.add(l));
    $("languages").replaceChildren(...[...names].map((name) => el("option", { value: name })));
  } catch (err) {
    showFormError(`Voices: ${err.message}`);
  }
  try {
    const doc = await api("/api/openapi.json");
    const props =
      doc.paths["/api/generate"].post.requestBody.content["application/json"].schema.properties;
    for (const name of ["tone", "size", "fps"]) {
      const choices = props[name] && props[name].enum;
      if (!choices) continue;
      const select = $(name);
      const keep = select.value;
      select.replaceChildren(...choices.map((c) => el("option", { value: String(c), text: String(c) })));
      select.value = choices.map(String).includes(keep) ? keep : String(choices[0]);
    }
    if (props.num_slides) $("num-slides").max = props.num_slides.maximum;
  } catch {
    // the form's own choices stand
  }
}

function options() {
  const body = {
    language: $("language").value.trim() || "english",
    tone: $("tone").value,
    size: $("size").value,
    fps: Number($("fps").value),
  };
  if ($("voice").value) body.voice = $("voice").value;
  if ($("theme").value) body.theme = $("theme").value;
  if (state.editing) {
    // A re-render keeps the generation's value of a field it leaves out: say each one.
    body.closing = $("closing").value || null;
    body.subtitle = $("subtitle").value.trim() || null;
    body.title_slide = $("title_slide").checked;
    body.burn_captions = $("burn_captions").checked;
    return body;
  }
  if ($("closing").value) body.closing = $("closing").value;
  if ($("subtitle").value.trim()) body.subtitle = $("subtitle").value.trim();
  if ($("title_slide").checked) body.title_slide = true;
  if ($("burn_captions").checked) body.burn_captions = true;
  return body;
}

// --- generating -----------------------------------------------------------------------------------

function requestBody() {
  const body = options();
  if (state.editing) return { slides: readSlides(), ...body };
  if (state.mode === "outline") {
    body.slides = readSlides();
    if ($("outline-topic").value.trim()) body.topic = $("outline-topic").value.trim();
  } else if (state.mode === "document") {
    body.source_text = $("source").value;
    if ($("doc-topic").value.trim()) body.topic = $("doc-topic").value.trim();
  } else if (state.mode === "deck") {
    return deckForm(body);
  } else {
    body.topic = $("topic").value.trim();
    body.num_slides = Number($("num-slides").value);
    if (!body.topic) throw new Error("Write a topic first.");
  }
  return body;
}

// An uploaded deck: the file and the usual fields as form fields (non-text ones as JSON).
function deckForm(fields) {
  const file = $("deck-file").files[0];
  if (!file) throw new Error("Choose a PDF or PowerPoint file first.");
  if ($("deck-topic").value.trim()) fields.topic = $("deck-topic").value.trim();
  const skip = $("deck-skip").value.split(/[\s,]+/).filter(Boolean).map(Number);
  if (skip.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("Leave out slides by their numbers, such as 2, 5.");
  if (skip.length) fields.skip = skip;
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    form.append(name, typeof value === "string" ? value : JSON.stringify(value));
  }
  form.append("deck", file, file.name);
  return form;
}

async function submit(ev) {
  ev.preventDefault();
  showFormError("");
  let body;
  try {
    body = requestBody();
  } catch (err) {
    showFormError(err.message);
    return;
  }
  const path = state.editing
    ? `/api/generations/${encodeURIComponent(state.editing)}/runs`
    : "/api/generate";
  $("go").disabled = true;
  try {
    const run = await api(path, { method: "POST", body });
    if (state.editing) stopEditing();
    follow(run);
    loadHistory();
    $("progress").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (err) {
    const where = err.status ? `${err.status} ${err.body.title || ""}`.trim() + ": " : "";
    showFormError(where + err.message);
  } finally {
    $("go").disabled = false;
  }
}

// --- following a run ------------------------------------------------------------------------------

function renderSteps() {
  $("steps").replaceChildren(
    ...STEPS.map((step, i) =>
      el("li", { class: "step", "data-step": i }, el("span", { class: "dot", "aria-hidden": "true" }), step.label),
    ),
  );
}

function markStep(status) {
  if (status === "error") {
    const current = $("steps").querySelector(".current");
    if (current) current.classList.add("failed");
    return;
  }
  const index = STEPS.findIndex((s) => s.statuses.includes(status));
  if (index < 0) return;
  for (const li of $("steps").children) {
    const i = Number(li.dataset.step);
    li.classList.toggle("done", i < index || status === "completed");
    li.classList.toggle("current", i === index && status !== "completed");
    if (i === index) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  }
}

function setProgress(value) {
  $("bar").value = value;
  $("pct").textContent = `${value}%`;
}

function logLine(msg) {
  const cls = msg.status === "error" ? "line error" : msg.status === "completed" ? "line ok" : "line";
  const line = el(
    "div",
    { class: cls },
    el("span", { class: "time", text: msg.timestamp || "" }),
    el("span", { class: "msg", text: msg.message }),
  );
  $("log").append(line);
  $("log").scrollTop = $("log").scrollHeight;
}

function closeStream() {
  if (state.source) state.source.close();
  state.source = null;
}

// Show a run in the progress panel and follow its stream until `done`.
function follow(run) {
  closeStream();
  state.current = { gid: run.generation_id, runId: run.run_id };
  state.lastId = 0;
  state.finished = false;
  $("run-title").textContent = `${run.topic || run.generation_id} · run ${run.run_id}`;
  if ($("result").dataset.gid !== run.generation_id) {
    // another generation: its video goes; a re-render keeps the old one until the new is done
    $("video").pause();
    $("result").hidden = true;
    $("slides").hidden = true;
  }
  $("log").replaceChildren();
  renderSteps();
  setProgress(0);
  $("cancel-run").hidden = false;
  openStream();
}

function openStream() {
  const { gid } = state.current;
  const source = new EventSource(mediaUrl(`/api/progress/${encodeURIComponent(gid)}`));
  let lastText = "";
  state.source = source;
  source.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.heartbeat) return;
    const id = Number(event.lastEventId || 0);
    if (!SYNTHETIC.has(msg.status)) {
      if (id && id <= state.lastId) return; // replayed after a reconnect: already shown
      state.lastId = Math.max(state.lastId, id);
    } else if (msg.message === lastText || (msg.status === "connected" && $("log").childElementCount)) {
      return;
    }
    lastText = msg.message;
    if (msg.status !== "done" && msg.status !== "error") setProgress(msg.progress); // an error keeps where it stopped
    markStep(msg.status === "connected" ? "waiting" : msg.status);
    logLine(msg);
    if (msg.status === "completed" || msg.status === "error") {
      state.finished = true;
      $("cancel-run").hidden = true;
      if (msg.status === "completed") showResult(gid);
      loadHistory();
    }
    if (msg.status === "done") {
      source.close();
      if (state.source === source) state.source = null;
      // a stream that timed out ends with done too: follow on, skipping what was shown
      if (!state.finished) setTimeout(() => state.current && state.current.gid === gid && openStream(), 500);
    }
  };
  source.onerror = async () => {
    if (source.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
    try {
      await api(`/api/status/${encodeURIComponent(gid)}`);
      logLine({ status: "error", message: "The progress stream stopped; open the generation again to follow it." });
    } catch (err) {
      logLine({ status: "error", message: `The progress stream stopped: ${err.message}` });
    }
  };
}

async function cancelRun(gid) {
  try {
    await api(`/api/generations/${encodeURIComponent(gid)}`, { method: "DELETE" });
  } catch (err) {
    showFormError(`Cancel: ${err.message}`);
  }
  loadHistory();
}

// --- the result -----------------------------------------------------------------------------------

function download(label, path, name, viaQuery) {
  const href = viaQuery ? mediaUrl(path) : path;
  const link = el("a", { href, download: name, class: "download" }, label);
  if (!viaQuery) {
    // the deck takes the token only as a header: fetch it, then save the blob
    link.addEventListener("click", async (ev) => {
      if (!token()) return;
      ev.preventDefault();
      try {
        const resp = await api(path, { raw: true });
        const url = URL.createObjectURL(await resp.blob());
        const save = el("a", { href: url, download: name });
        document.body.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (err) {
        showFormError(`${label}: ${err.message}`);
      }
    });
  }
  return el("li", {}, link);
}

async function showResult(gid) {
  let status;
  try {
    status = await api(`/api/status/${encodeURIComponent(gid)}`);
  } catch (err) {
    showFormError(err.message);
    return;
  }
  if (status.run_status !== "completed") return;
  const run = { v: String(status.run_id) }; // a new run's files are new URLs
  const g = `/api/generations/${encodeURIComponent(gid)}`;
  const video = $("video");
  video.replaceChildren(
    el("track", {
      kind: "captions",
      src: mediaUrl(`/api/captions/${encodeURIComponent(gid)}.vtt`, run),
      srclang: "en",
      label: "Captions",
      default: true,
    }),
  );
  video.poster = mediaUrl(`${g}/poster.jpg`, run);
  video.src = mediaUrl(`${g}/video`, run);
  video.addEventListener(
    "loadedmetadata",
    () => {
      for (const track of video.textTracks) track.mode = "showing";
    },
    { once: true },
  );
  $("result").hidden = false;
  $("result").dataset.gid = gid;
  $("result-heading").textContent = status.topic || gid;

  const chapters = (status.result && status.result.chapters) || [];
  $("chapters").replaceChildren(
    ...chapters.map((c) =>
      el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "chapter", "data-start": c.start, onclick: () => seek(c.start) },
          el("span", { class: "time", text: clock(c.start) }),
          el("span", { text: c.title }),
        ),
      ),
    ),
  );
  const safe = gid.replace(/[^\w-]/g, "_");
  $("downloads").replaceChildren(
    download("Video (MP4)", `${g}/video`, `${safe}.mp4`, true),
    download("Captions (VTT)", `/api/captions/${encodeURIComponent(gid)}.vtt`, `${safe}.vtt`, true),
    download("Captions (SRT)", `/api/captions/${encodeURIComponent(gid)}.srt`, `${safe}.srt`, true),
    download("Slides (PPTX)", `${g}/deck.pptx`, `${safe}.pptx`, false),
    download("Slides (PDF)", `${g}/deck.pdf`, `${safe}.pdf`, false),
  );
  showSlides(gid, run);
}

function seek(start) {
  const video = $("video");
  video.currentTime = Number(start) + 0.001;
  video.focus();
}

function markChapter() {
  const t = $("video").currentTime;
  let current = null;
  for (const button of $("chapters").querySelectorAll(".chapter")) {
    button.removeAttribute("aria-current");
    if (Number(button.dataset.start) <= t + 0.01) current = button;
  }
  if (current) current.setAttribute("aria-current", "true");
}

async function showSlides(gid, run) {
  let script;
  let content;
  try {
    [script, content] = await Promise.all([
      api(`/api/script/${encodeURIComponent(gid)}`),
      api(`/api/content/${encodeURIComponent(gid)}`),
    ]);
  } catch (err) {
    showFormError(`Slides: ${err.message}`);
    return;
  }
  const items = script.slide_scripts || script.scripts || [];
  const titles = Object.fromEntries((content.slides || []).map((s) => [s.slide_number, s.title]));
  $("thumbs").replaceChildren(
    ...items.map((s) => {
      const n = s.slide_number;
      const title = titles[n] || `Slide ${n}`;
      return el(
        "li",
        { class: "thumb" },
        el(
          "button",
          { type: "button", class: "thumb-image", onclick: () => seek(s.start_time), "aria-label": `Play from slide ${n}: ${title}` },
          el("img", {
            src: mediaUrl(`/api/generations/${encodeURIComponent(gid)}/slides/${n}.png`, run),
            alt: "",
            decoding: "async",
            width: 320,
            height: 180,
          }),
        ),
        el(
          "div",
          { class: "thumb-text" },
          el("h3", {}, el("span", { class: "num", text: `${n}` }), title),
          el("p", { class: "time", text: `${clock(s.start_time)} – ${clock(s.end_time)}` }),
          el("p", { class: "narration", text: s.narration_text }),
        ),
      );
    }),
  );
  $("slides").hidden = false;
}

// --- editing and re-rendering ---------------------------------------------------------------------

async function startEditing(gid) {
  let deck;
  try {
    deck = await api(`/api/generations/${encodeURIComponent(gid)}/deck`);
  } catch (err) {
    showFormError(`Edit: ${err.message}`);
    return;
  }
  state.editing = gid;
  selectTab("outline");
  for (const tab of OTHER_TABS) $(`tab-${tab}`).disabled = true;
  $("outline-topic").value = deck.topic || "";
  $("outline-topic").disabled = true;
  for (const name of ["language", "tone", "size", "fps", "voice"]) {
    if (deck[name] !== null && deck[name] !== undefined) $(name).value = String(deck[name]);
  }
  for (const name of ["theme", "closing", "subtitle"]) $(name).value = deck[name] ?? "";
  $("title_slide").checked = Boolean(deck.title_slide);
  $("burn_captions").checked = Boolean(deck.burn_captions);
  setSlides(deck.slides);
  $("create-heading").textContent = "Edit and re-render";
  $("edit-note").textContent = deck.deck
    ? `Editing “${deck.topic || gid}”, narrated over the pages of ${deck.deck.name || "its deck"}: change a slide's narration, or delete a slide to leave its page out.`
    : `Editing “${deck.topic || gid}”. Only the speech and pictures you change are made again.`;
  $("edit-note").hidden = false;
  $("stop-editing").hidden = false;
  $("go").textContent = "Re-render";
  $("create").scrollIntoView({ behavior: "smooth", block: "start" });
  field($("editor").firstElementChild, "title").focus({ preventScroll: true });
}

function stopEditing() {
  state.editing = null;
  for (const tab of OTHER_TABS) $(`tab-${tab}`).disabled = false;
  $("outline-topic").disabled = false;
  $("create-heading").textContent = "New video";
  $("edit-note").hidden = true;
  $("stop-editing").hidden = true;
  $("go").textContent = "Generate";
}

// --- past generations -----------------------------------------------------------------------------

async function loadHistory() {
  let data;
  try {
    data = await api("/api/generations?limit=50");
  } catch (err) {
    $("generations").replaceChildren(el("li", { class: "error", text: err.message }));
    return;
  }
  const seen = new Set();
  const rows = data.generations.filter((g) => !seen.has(g.generation_id) && seen.add(g.generation_id));
  if (!rows.length) {
    $("generations").replaceChildren(el("li", { class: "muted", text: "No generations yet." }));
    return;
  }
  $("generations").replaceChildren(
    ...rows.map((g) => {
      const when = g.created_at ? new Date(g.created_at * 1000).toLocaleString() : "";
      const running = g.status === "queued" || g.status === "running";
      return el(
        "li",
        { class: "generation", "data-gid": g.generation_id },
        el(
          "div",
          { class: "generation-text" },
          el("strong", { text: g.topic || g.generation_id }),
          el("span", { class: "muted", text: `${when} · run ${g.run_id}` }),
        ),
        el("span", { class: `badge ${g.status}`, text: g.status }),
        el(
          "div",
          { class: "generation-tools" },
          el("button", {
            type: "button",
            class: "ghost small",
            "data-action": "open",
            "aria-label": `Open ${g.topic || g.generation_id}`,
            text: "Open",
            onclick: () => openGeneration(g.generation_id),
          }),
          running
            ? el("button", {
                type: "button",
                class: "danger small",
                "data-action": "cancel",
                "aria-label": `Cancel ${g.topic || g.generation_id}`,
                text: "Cancel",
                onclick: () => cancelRun(g.generation_id),
              })
            : null,
        ),
      );
    }),
  );
}

async function openGeneration(gid) {
  let g;
  try {
    g = await api(`/api/generations/${encodeURIComponent(gid)}`);
  } catch (err) {
    showFormError(err.message);
    return;
  }
  follow(g);
  if (FINAL.has(g.status)) $("cancel-run").hidden = true;
  if (g.status !== "completed") {
    $("result").hidden = true;
    $("slides").hidden = true;
  }
  $("progress").scrollIntoView({ behavior: "smooth", block: "start" });
}

// --- start ----------------------------------------------------------------------------------------

function start() {
  setUpToken();
  setUpTabs();
  setUpEditor();
  renderSteps();
  $("form").addEventListener("submit", submit);
  $("stop-editing").addEventListener("click", () => {
    stopEditing();
    setSlides([{}]);
  });
  $("edit").addEventListener("click", () => startEditing($("result").dataset.gid));
  $("cancel-run").addEventListener("click", () => state.current && cancelRun(state.current.gid));
  $("refresh").addEventListener("click", loadHistory);
  $("video").addEventListener("timeupdate", markChapter);
  $("video").addEventListener("seeked", markChapter);
  Promise.all([loadChoices(), loadHistory()]).then(() => {
    document.body.dataset.ready = "true"; // the choices and the list are in
  });
}

start();
