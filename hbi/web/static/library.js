// The library page: every indexed book, the books that failed and why, and those still waiting.
import { api, describeError, el, setUpKeyButton, showStatus } from "/static/common.js";

const status = document.getElementById("status");
const root = document.getElementById("library");

function table(caption, headings, rows) {
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headings.map((heading) => el("th", { scope: "col" }, heading)))),
    el("tbody", {}, rows));
}

function bookRow(book) {
  const number = (value) => el("td", { class: "number" }, value ?? "—");
  return el("tr", {},
    el("th", { scope: "row" },
      el("a", { href: `/library/${encodeURIComponent(book.book_id)}` }, book.title)),
    el("td", {}, book.authors.join(", ")),
    el("td", {}, book.format.toUpperCase()),
    el("td", {}, book.language ?? "—"),
    number(book.pages),
    el("td", {}, book.ocr
      ? `pages ${book.ocr.page_ranges} (${book.ocr.mean_confidence}% confidence)` : "—"),
    number(book.chunks),
    el("td", {}, book.status));
}

function failedRow(failure) {
  return el("tr", {},
    el("th", { scope: "row" }, failure.object_key || failure.book_id),
    el("td", {}, failure.kind),
    el("td", {}, failure.reason),
    el("td", {}, failure.message),
    el("td", {}, failure.failed_at));
}

async function start() {
  setUpKeyButton();
  try {
    const { body } = await api("/library");
    const { books, failed, pending } = body;
    const sorted = [...books].sort((a, b) => a.title.localeCompare(b.title));
    showStatus(status, `${books.length} books indexed, ${failed.length} failed, `
      + `${pending.length} waiting.`);
    root.append(table(`Indexed books (${books.length})`,
      ["Title", "Authors", "Format", "Language", "Pages", "OCR", "Passages", "Status"], sorted.map(bookRow)));
    if (failed.length) {
      root.append(table(`Books that failed (${failed.length})`,
        ["Book", "Kind", "Reason", "Message", "When"], failed.map(failedRow)));
    }
    if (pending.length) {
      root.append(el("h2", {}, `Waiting to be indexed (${pending.length})`),
        el("ul", {}, pending.map((book) => el("li", {}, book.object_key || book.book_id))));
    }
  } catch (error) {
    showStatus(status, describeError(error), true);
  }
}

start();
