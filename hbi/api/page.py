"""The one HTML page of the API: a search box that calls /search and lists the hits."""

SEARCH_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HBI search</title>
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}
li{margin:.8rem 0}.where{color:#555;font-size:.9em}.snippet{margin:.2rem 0}
</style></head><body>
<h1>HBI search</h1>
<form id="f">
 <input name="q" size="50" required maxlength="1000" autofocus placeholder="query">
 <select name="mode"><option>hybrid</option><option>lexical</option><option>semantic</option>
 </select>
 <input name="key" type="password" placeholder="API key (if set)">
 <button>Search</button>
</form>
<p id="status"></p><ol id="hits"></ol>
<script>
const form = document.getElementById("f");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const status = document.getElementById("status"), list = document.getElementById("hits");
  const params = new URLSearchParams({q: form.q.value, mode: form.mode.value});
  const headers = form.key.value ? {"X-API-Key": form.key.value} : {};
  list.replaceChildren();
  const response = await fetch("/search?" + params, {headers});
  const body = await response.json();
  if (!response.ok) {
    status.textContent = "Error " + response.status + ": " + JSON.stringify(body.detail);
    return;
  }
  status.textContent = body.hits.length + " hits in " + body.took_ms + " ms";
  for (const hit of body.hits) {
    const item = document.createElement("li");
    const title = document.createElement("strong");
    title.textContent = hit.title;
    const where = document.createElement("div");
    where.className = "where";
    const page = hit.page_label || hit.page_start;
    where.textContent = (hit.section_path.join(" › ") || "(front matter)")
      + (page ? ", p. " + page : "");
    const snippet = document.createElement("div");
    snippet.className = "snippet";
    snippet.textContent = hit.snippet;
    item.append(title, where, snippet);
    list.append(item);
  }
});
</script></body></html>
"""
