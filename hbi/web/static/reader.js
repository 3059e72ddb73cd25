// The reader: a PDF page as its rendered image under a selectable text layer, or a section of
// any other book as paragraphs of text; the passage of a hit is in <mark> and scrolled to.
import {
  api, apiImage, bookPath, describeError, el, readerHref, setUpKeyButton, showStatus,
} from "/static/common.js";

const IMAGE_WIDTH = 1400;
const bookId = decodeURIComponent(location.pathname.split("/")[2]);
const params = new URLSearchParams(location.search);
const chunk = params.get("chunk");
const status = document.getElementById("status");
const content = document.getElementById("content");

function show(title, breadcrumb, meta) {
  document.getElementById("title").textContent = title;
  document.title = `${title} — HBI reader`;
  document.getElementById("breadcrumb").replaceChildren(
    el("ol", {}, breadcrumb.map((name) => el("li", {}, name))));
  document.getElementById("meta").textContent = meta;
}

function navigation(previous, next) {
  for (const id of ["reader-nav-top", "reader-nav-bottom"]) {
    document.getElementById(id).replaceChildren(
      previous ? el("a", { href: previous.href, rel: "prev" }, `← ${previous.label}`) : el("span"),
      next ? el("a", { href: next.href, rel: "next" }, `${next.label} →`) : el("span"));
  }
}

function revealMark() {
  const first = content.querySelector("mark");
  if (first) first.scrollIntoView({ block: "center" });
}

// --- PDF: one page --------------------------------------------------------------------------

async function showPage(book, number) {
  const { body: page } = await api(`/books/${bookPath(bookId)}/pages/${number}`, { chunk });
  const label = page.page_label ? `Page ${page.page_label} · ` : "";
  show(page.title, page.breadcrumb, `${label}page ${page.page} of ${page.page_count}`);
  const here = (n) => readerHref(bookId, { format: "pdf", page: n });
  navigation(
    page.prev ? { href: here(page.prev), label: "Previous page" } : null,
    page.next ? { href: here(page.next), label: "Next page" } : null);
  const image = el("img", { alt: `Page ${page.page_label || page.page} of ${page.title}` });
  const layer = el("div", { class: "text-layer" });
  const view = el("div", { class: "page-view" }, image, layer);
  view.style.aspectRatio = `${page.width} / ${page.height}`;
  for (const line of page.lines) {
    const node = el("div", { class: "line" }, line.spans.map(
      (span) => (span.mark ? el("mark", {}, span.text) : span.text)));
    node.style.left = `${line.x * 100}%`;
    node.style.top = `${line.y * 100}%`;
    node.dataset.w = line.w;
    node.dataset.h = line.h;
    layer.append(node);
  }
  content.replaceChildren(view);
  fitTextLayer(view);
  new ResizeObserver(() => fitTextLayer(view)).observe(view);
  showStatus(status, "");
  revealMark();
  image.src = await apiImage(`/books/${bookPath(bookId)}/pages/${number}/image?width=${IMAGE_WIDTH}`);
}

// Sizes each line's text to its box on the page, so selections fall on the printed words.
function fitTextLayer(view) {
  const { width, height } = view.getBoundingClientRect();
  if (!width) return;
  for (const line of view.querySelectorAll(".line")) {
    line.style.transform = "";
    line.style.fontSize = `${Number(line.dataset.h) * height}px`;
    const natural = line.scrollWidth;
    if (natural > 0) line.style.transform = `scaleX(${(Number(line.dataset.w) * width) / natural})`;
  }
}

// --- other formats: one section ---------------------------------------------------------------

// Returns the section's paragraphs. Passages break at blank lines or inside a paragraph: the
// text after a passage that stops mid-sentence goes on in the same paragraph.
function paragraphsOf(chunks) {
  const paragraphs = [];
  let open = null;
  for (const part of chunks) {
    const pieces = part.text.split(/\n\s*\n/);
    pieces.forEach((piece, index) => {
      const continued = index === 0 && open;
      const text = continued ? piece : piece.trimStart();
      if (!text.trim()) return;
      const paragraph = continued ? open : el("p");
      if (!continued) paragraphs.push(paragraph);
      paragraph.append(part.mark ? el("mark", {}, text) : text);
      const last = index === pieces.length - 1;
      open = last && !/[.!?:;"”’)\]]\s*$/.test(text) ? paragraph : null;
    });
  }
  return paragraphs;
}

async function showSection(book, section) {
  const { body: passage } = await api(`/books/${bookPath(bookId)}/passage`, { section, chunk });
  const page = passage.page_label || passage.page;
  show(passage.title, passage.breadcrumb,
    [passage.section_title, page ? `page ${page}` : null].filter(Boolean).join(" · "));
  const to = (target) => target && {
    href: readerHref(bookId, { format: book.format, section: target.section_id ?? "" }),
    label: target.title,
  };
  navigation(to(passage.prev), to(passage.next));
  content.replaceChildren(el("div", { class: "passage" }, paragraphsOf(passage.chunks)));
  showStatus(status, "");
  revealMark();
}

async function start() {
  setUpKeyButton();
  try {
    const { body: book } = await api(`/books/${bookPath(bookId)}`);
    if (book.format !== "pdf") {
      await showSection(book, params.get("section"));
      return;
    }
    let page = parseInt(params.get("page") || "", 10);
    if (!page) {
      // A PDF deep link by section or passage: find its page, and keep the URL a page link.
      const { body: passage } = await api(`/books/${bookPath(bookId)}/passage`, {
        section: params.get("section"), chunk,
      });
      const marked = passage.chunks.find((part) => part.mark) ?? passage.chunks[0];
      page = marked?.page_start || passage.page || 1;
      history.replaceState(null, "", readerHref(bookId, { format: "pdf", page, chunk }));
    }
    await showPage(book, page);
  } catch (error) {
    showStatus(status, describeError(error), true);
  }
}

start();
