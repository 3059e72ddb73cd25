// The search page: the URL holds the search (so it can be reloaded and shared), the form
// mirrors it, and the hits link into the reader at their place.
import {
  api, describeError, el, marked, readerHref, setUpKeyButton, showStatus,
} from "/static/common.js";

const PAGE_SIZE = 10;
const form = document.getElementById("search-form");
const status = document.getElementById("status");
const hitList = document.getElementById("hits");
const pager = document.getElementById("pager");
const FILTERS = ["book", "author", "format", "section"];
const FLAGS = ["per_book", "explain"];
let books = [];
let searchNumber = 0;

function stateFromUrl() {
  const params = new URLSearchParams(location.search);
  const state = {
    q: params.get("q") || "",
    mode: params.get("mode") || "hybrid",
    page: Math.max(1, parseInt(params.get("page") || "1", 10) || 1),
  };
  for (const name of FILTERS) state[name] = params.get(name) || "";
  for (const name of FLAGS) state[name] = params.get(name) === "1";
  return state;
}

function urlOf(state) {
  const params = new URLSearchParams();
  params.set("q", state.q);
  if (state.mode !== "hybrid") params.set("mode", state.mode);
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  for (const name of FLAGS) if (state[name]) params.set(name, "1");
  if (state.page > 1) params.set("page", state.page);
  return `/?${params}`;
}

function stateFromForm() {
  const state = { q: form.q.value.trim(), mode: form.mode.value, page: 1 };
  for (const name of FILTERS) state[name] = form[name].value;
  for (const name of FLAGS) state[name] = form[name].checked;
  return state;
}

async function fillForm(state) {
  form.q.value = state.q;
  form.mode.value = state.mode;
  for (const name of ["book", "author", "format"]) {
    ensureOption(form[name], state[name]);
    form[name].value = state[name];
  }
  for (const name of FLAGS) form[name].checked = state[name];
  await loadSections(state.book, state.section);
}

// A value from a shared URL that the lists do not hold yet still shows (and is searched).
function ensureOption(select, value) {
  if (value && ![...select.options].some((option) => option.value === value)) {
    select.append(el("option", { value }, value));
  }
}

async function loadFilters() {
  const { body } = await api("/books");
  books = body;
  const authors = [...new Set(books.flatMap((book) => book.authors))].sort();
  const formats = [...new Set(books.map((book) => book.format))].sort();
  const titled = [...books].sort((a, b) => a.title.localeCompare(b.title));
  form.book.append(...titled.map((book) => el("option", { value: book.book_id }, book.title)));
  form.author.append(...authors.map((author) => el("option", { value: author }, author)));
  form.format.append(...formats.map((format) => el("option", { value: format }, format.toUpperCase())));
}

// Fills the section picker with the chosen book's ToC, indented by level.
async function loadSections(bookId, selected = "") {
  const select = form.section;
  select.replaceChildren(el("option", { value: "" }, "Whole book"));
  select.disabled = !bookId;
  if (!bookId) return;
  try {
    const { body } = await api(`/books/${encodeURIComponent(bookId)}/toc`);
    for (const entry of body) {
      const indent = "\u00A0\u00A0".repeat(Math.max(0, entry.level - 1));
      select.append(el("option", { value: entry.section_id }, indent + entry.title));
    }
  } catch {
    select.disabled = true;  // no ToC: the whole book is the only scope
  }
  ensureOption(select, selected);
  select.value = selected;
}

function formatOf(bookId) {
  return books.find((book) => book.book_id === bookId)?.format;
}

function hitItem(hit) {
  const format = formatOf(hit.book_id) ?? (hit.page_start ? "pdf" : null);
  const href = readerHref(hit.book_id, {
    format, page: hit.page_start, section: hit.section_id, chunk: hit.chunk_id,
  });
  const page = hit.page_label || hit.page_start;
  const where = [hit.section_path.join(" › ") || "Front matter"];
  if (page) where.push(`p. ${page}`);
  if (hit.ocr) where.push("text read by OCR");
  return el("li", { class: "hit" },
    el("a", { class: "hit-title", href }, hit.title),
    el("div", { class: "authors" }, hit.authors.join(", ")),
    el("div", { class: "where" }, where.join(" · ")),
    el("p", { class: "snippet" }, marked(hit.snippet)),
    hit.explain ? explainList(hit.explain) : null);
}

function explainList(explain) {
  const leg = (name) => {
    const place = explain[name];
    if (!place) return "not in this list";
    const vector = place.vector ? ` (${place.vector} vector)` : "";
    return `rank ${place.rank}, score ${place.score}${vector}`;
  };
  const rows = [["Lexical", leg("lexical")], ["Semantic", leg("semantic")]];
  if (explain.fused !== null && explain.fused !== undefined) rows.push(["Fused", `score ${explain.fused}`]);
  return el("dl", { class: "explain", "aria-label": "How this hit ranked" },
    rows.map(([name, value]) => el("div", {}, el("dt", {}, name), el("dd", {}, value))));
}

function pageLink(state, page, label, rel) {
  const href = urlOf({ ...state, page });
  return el("a", { href, rel, onclick: (event) => { event.preventDefault(); go({ ...state, page }); } }, label);
}

async function runSearch(state) {
  const number = ++searchNumber;
  hitList.replaceChildren();
  pager.replaceChildren();
  if (!state.q) {
    showStatus(status, "");
    return;
  }
  showStatus(status, "Searching…");
  try {
    const { body } = await api("/search", {
      q: state.q, mode: state.mode, k: PAGE_SIZE, offset: (state.page - 1) * PAGE_SIZE,
      book: state.book || null, author: state.author || null, format: state.format || null,
      section: state.section || null, per_book: state.per_book, explain: state.explain,
      marks: "private-use",
    });
    if (number !== searchNumber) return;  // a newer search has started
    const first = (state.page - 1) * PAGE_SIZE + 1;
    showStatus(status, body.hits.length
      ? `Hits ${first}–${first + body.hits.length - 1} in ${Math.round(body.took_ms)} ms`
      : "No hits.");
    hitList.start = first;
    hitList.append(...body.hits.map(hitItem));
    if (state.page > 1) pager.append(pageLink(state, state.page - 1, "← Previous hits", "prev"));
    if (body.hits.length === PAGE_SIZE) pager.append(pageLink(state, state.page + 1, "Next hits →", "next"));
  } catch (error) {
    if (number === searchNumber) showStatus(status, describeError(error), true);
  }
}

function go(state) {
  history.pushState(null, "", urlOf(state));
  document.title = `${state.q} — HBI search`;
  runSearch(state);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const state = stateFromForm();
  if (state.q) go(state);
});
form.book.addEventListener("change", () => loadSections(form.book.value));
window.addEventListener("popstate", async () => {
  const state = stateFromUrl();
  await fillForm(state);
  runSearch(state);
});

async function start() {
  setUpKeyButton();
  const state = stateFromUrl();
  if (state.q) document.title = `${state.q} — HBI search`;
  try {
    await loadFilters();
  } catch (error) {
    showStatus(status, describeError(error), true);
  }
  if (state.q) {
    await fillForm(state);
    await runSearch(state);
  } else {
    // Nothing to restore: leave what the reader may have typed or chosen meanwhile.
    form.q.focus();
  }
}

start();
