// A book's page: its ToC as a tree of links into the reader, and its back-of-book index terms.
import {
  api, bookPath, describeError, el, readerHref, setUpKeyButton, showStatus,
} from "/static/common.js";

const TERMS_PAGE = 50;
const bookId = decodeURIComponent(location.pathname.split("/")[2]);
const status = document.getElementById("status");
let format = null;

// Returns nested <ol>s from the ToC's flat list in reading order, nesting by level.
function tocTree(entries) {
  const top = el("ol");
  const stack = [{ level: 0, list: top, item: null }];
  for (const entry of entries) {
    while (stack.length > 1 && stack[stack.length - 1].level >= entry.level) stack.pop();
    const parent = stack[stack.length - 1];
    let list = parent.list;
    if (parent.item) {
      list = parent.item.querySelector(":scope > ol") ?? parent.item.appendChild(el("ol"));
    }
    const href = readerHref(bookId, { format, page: entry.page, section: entry.section_id });
    const page = entry.page_label || entry.page;
    const item = el("li", {},
      el("a", { href }, entry.title),
      page ? el("span", { class: "page" }, `p. ${page}`) : null);
    list.append(item);
    stack.push({ level: entry.level, list, item });
  }
  return top;
}

async function loadToc() {
  const toc = document.getElementById("toc");
  try {
    const { body } = await api(`/books/${bookPath(bookId)}/toc`);
    toc.append(tocTree(body));
  } catch (error) {
    toc.append(el("p", {}, error.status === 404
      ? "This book has no table of contents." : describeError(error)));
  }
}

async function loadTerms(prefix, offset) {
  const list = document.getElementById("terms");
  const pager = document.getElementById("terms-pager");
  const termsStatus = document.getElementById("terms-status");
  const { body, headers } = await api(`/books/${bookPath(bookId)}/terms`, {
    prefix: prefix || null, limit: TERMS_PAGE, offset,
  });
  const total = parseInt(headers.get("X-Total-Count") || "0", 10);
  list.replaceChildren(...body.map((term) => {
    const section = term.section_ids?.[0];
    const name = section
      ? el("a", { href: readerHref(bookId, { format, section }) }, term.term)
      : term.term;
    return el("li", {},
      term.parents?.length ? el("span", { class: "parents" }, `${term.parents.join(" › ")} › `) : null,
      name,
      term.pages?.length ? ` — pp. ${term.pages.join(", ")}` : "");
  }));
  showStatus(termsStatus, total
    ? `Terms ${offset + 1}–${offset + body.length} of ${total}` : "No terms.");
  pager.replaceChildren();
  const link = (to, label) => el("button", {
    type: "button", class: "secondary", onclick: () => loadTerms(prefix, to),
  }, label);
  if (offset > 0) pager.append(link(Math.max(0, offset - TERMS_PAGE), "← Previous terms"));
  if (offset + body.length < total) pager.append(link(offset + TERMS_PAGE, "Next terms →"));
  return total;
}

async function start() {
  setUpKeyButton();
  try {
    const { body: book } = await api(`/books/${bookPath(bookId)}`);
    format = book.format;
    document.getElementById("title").textContent = book.title;
    document.title = `${book.title} — HBI`;
    const pages = book.page_count ? `, ${book.page_count} pages` : "";
    document.getElementById("book-meta").textContent =
      `${book.authors.join(", ")} · ${book.format.toUpperCase()}${pages}, ${book.chunk_count} passages`;
    showStatus(status, "");
  } catch (error) {
    showStatus(status, describeError(error), true);
    return;
  }
  await loadToc();
  const section = document.getElementById("terms-section");
  try {
    if (await loadTerms("", 0)) section.hidden = false;
  } catch (error) {
    showStatus(status, describeError(error), true);
  }
  document.getElementById("terms-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadTerms(document.getElementById("prefix").value.trim(), 0)
      .catch((error) => showStatus(status, describeError(error), true));
  });
}

start();
