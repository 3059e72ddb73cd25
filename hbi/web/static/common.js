// What every page of HBI's web app shares: the API key, JSON calls, and building DOM nodes.
// Book text only ever becomes text nodes (el(), marked()); nothing here parses HTML.

const KEY_STORAGE = "hbi-api-key";
export const MARK_OPEN = "\uE000";
export const MARK_CLOSE = "\uE001";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

// Returns an element with attributes (`class`, `href`, `for`, … or on* listeners as functions)
// and children; strings become text nodes, null/false children are skipped.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") node.addEventListener(name.replace(/^on/, ""), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Returns text as nodes, the parts between MARK_OPEN and MARK_CLOSE inside <mark> elements.
export function marked(text) {
  const fragment = document.createDocumentFragment();
  let inside = false;
  for (const part of text.split(/([\uE000\uE001])/)) {
    if (part === MARK_OPEN) inside = true;
    else if (part === MARK_CLOSE) inside = false;
    else if (part) fragment.append(inside ? el("mark", {}, part) : document.createTextNode(part));
  }
  return fragment;
}

let pendingKey = null;

// Shows the key dialog (once, however many calls are waiting) and resolves with the key typed,
// or rejects when the reader cancels.
export function askForKey(message) {
  if (pendingKey) return pendingKey;
  const dialog = keyDialog();
  dialog.querySelector(".key-message").textContent = message;
  const input = dialog.querySelector("input");
  input.value = "";
  dialog.returnValue = "";
  pendingKey = new Promise((resolve, reject) => {
    dialog.onclose = () => {
      pendingKey = null;
      if (dialog.returnValue === "use" && input.value) {
        sessionStorage.setItem(KEY_STORAGE, input.value);
        resolve(input.value);
      } else {
        reject(new ApiError(401, "No API key was given; this library needs one."));
      }
    };
  });
  dialog.showModal();
  input.focus();
  return pendingKey;
}

function keyDialog() {
  let dialog = document.getElementById("key-dialog");
  if (dialog) return dialog;
  dialog = el("dialog", { id: "key-dialog", "aria-labelledby": "key-title" },
    el("form", { method: "dialog" },
      el("h2", { id: "key-title" }, "API key needed"),
      el("p", { class: "key-message", role: "alert" }),
      el("label", { for: "key-input" }, "API key"),
      el("input", { id: "key-input", type: "password", autocomplete: "off", required: true }),
      el("div", { class: "actions" },
        el("button", { type: "submit", value: "cancel", class: "secondary", formnovalidate: true },
          "Cancel"),
        el("button", { type: "submit", value: "use" }, "Use this key"))));
  document.body.append(dialog);
  return dialog;
}

async function request(path, accept) {
  for (let refused = false; ; refused = true) {
    const key = sessionStorage.getItem(KEY_STORAGE);
    const headers = { Accept: accept };
    if (key) headers["X-API-Key"] = key;
    const response = await fetch(path, { headers });
    if (response.status !== 401) return response;
    await askForKey(key || refused
      ? "The server refused that key (401). Check it and enter it again."
      : "This library asks for an API key. It is kept in this browser tab only.");
  }
}

// Chunk ids are 64-bit integers, past what a JavaScript number holds exactly: they are read as
// strings. Inside a JSON string a quote is escaped (\"), so book text never matches the key.
function parseJson(text) {
  return JSON.parse(text.replace(/"chunk_id":\s*(-?\d+)/g, '"chunk_id":"$1"'));
}

async function failure(response) {
  let detail = response.statusText;
  try {
    detail = (await response.json()).detail ?? detail;
  } catch {
    // Not JSON (a proxy's error page): the status text says enough.
  }
  return new ApiError(response.status, detail);
}

// Returns {body, headers} of a JSON API call (null parameters left out); asks for the key on
// 401; throws ApiError.
export async function api(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const one of [value].flat()) {
      if (one !== null && one !== undefined) query.append(name, one);
    }
  }
  const url = query.size ? `${path}?${query}` : path;
  const response = await request(url, "application/json");
  if (!response.ok) throw await failure(response);
  return { body: parseJson(await response.text()), headers: response.headers };
}

// Returns an object URL for an image from the API (an <img> cannot send the key header).
export async function apiImage(path) {
  const response = await request(path, "image/*");
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}

export function bookPath(bookId) {
  return encodeURIComponent(bookId);
}

// Returns the reader's URL for a place in a book: a PDF by page, other formats by section
// (section "" is the front matter before the first ToC entry).
export function readerHref(bookId, { format, page, section, chunk }) {
  const params = new URLSearchParams();
  if (format === "pdf" && page) params.set("page", page);
  else if (section !== null && section !== undefined) params.set("section", section);
  else if (page) params.set("page", page);
  if (chunk !== null && chunk !== undefined) params.set("chunk", chunk);
  return `/books/${bookPath(bookId)}/read?${params}`;
}

export function showStatus(node, message, isError = false) {
  node.textContent = message;
  node.classList.toggle("error", isError);
}

export function describeError(error) {
  if (error instanceof ApiError) return `Error ${error.status}: ${error.message}`;
  return `Error: ${error.message}`;
}

// The header's key button: lets the reader enter or change the key at any time.
export function setUpKeyButton() {
  const button = document.getElementById("key-button");
  button?.addEventListener("click", () => {
    askForKey("Enter the API key of this library (kept in this browser tab only).")
      .then(() => location.reload(), () => {});
  });
}
