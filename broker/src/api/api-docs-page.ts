/**
 * The page at /api-docs (for a browser): one self-contained HTML file, no CDN and no
 * framework, that fetches the OpenAPI document and lists every operation by tag, with its
 * parameters, request body and reply schemas. Enough to read the API; not a client.
 */
export const API_DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Petrel REST API</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 64rem; padding: 1rem; color: #1d2330; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; border-bottom: 1px solid #ccd; }
details { border: 1px solid #dde; border-radius: 4px; margin: .3rem 0; }
summary { cursor: pointer; padding: .35rem .5rem; }
summary code { font-weight: 600; }
.m { display: inline-block; width: 4.2rem; font: 600 12px monospace; text-align: center; border-radius: 3px; color: #fff; margin-right: .4rem; }
.GET { background: #2f6fb3; } .POST { background: #2e8b57; } .PUT { background: #b8860b; } .DELETE { background: #b33a3a; }
.open { font-size: 11px; border: 1px solid #2e8b57; color: #2e8b57; border-radius: 3px; padding: 0 .3rem; }
.body { padding: 0 .8rem .6rem; } pre { background: #f5f6fa; padding: .5rem; overflow: auto; font-size: 12px; }
table { border-collapse: collapse; } td, th { border: 1px solid #dde; padding: .2rem .4rem; text-align: left; vertical-align: top; }
</style>
</head>
<body>
<h1>Petrel REST API</h1>
<p>The OpenAPI document: <a href="/api-docs/swagger.json">/api-docs/swagger.json</a>. Requests need an API key by HTTP Basic unless marked “no key”.</p>
<main id="ops" aria-live="polite">Loading…</main>
<script>
(async () => {
  const root = document.getElementById('ops');
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const pre = (o) => '<pre>' + esc(JSON.stringify(o, null, 2)) + '</pre>';
  let doc;
  try { doc = await (await fetch('/api-docs/swagger.json')).json(); } catch (e) { root.textContent = 'Cannot load the document: ' + e; return; }
  const byTag = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(ops)) {
    const t = (op.tags || ['other'])[0];
    if (!byTag.has(t)) byTag.set(t, []);
    byTag.get(t).push({ path, method: method.toUpperCase(), op });
  }
  let html = '';
  for (const [t, list] of byTag) {
    html += '<h2>' + esc(t) + '</h2>';
    for (const { path, method, op } of list) {
      const open = op.security && op.security.length === 0 ? ' <span class="open">no key</span>' : '';
      html += '<details><summary><span class="m ' + method + '">' + method + '</span><code>' + esc(path) + '</code> ' + esc(op.summary || '') + open + '</summary><div class="body">';
      if (op.parameters && op.parameters.length) {
        html += '<table><tr><th>Parameter</th><th>In</th><th>Schema</th></tr>';
        for (const p of op.parameters) html += '<tr><td>' + esc(p.name) + (p.required ? ' *' : '') + '</td><td>' + esc(p.in) + '</td><td><code>' + esc(JSON.stringify(p.schema)) + '</code></td></tr>';
        html += '</table>';
      }
      if (op.requestBody) for (const [type, c] of Object.entries(op.requestBody.content)) html += '<p>Body (' + esc(type) + '):</p>' + pre(c.schema);
      for (const [status, r] of Object.entries(op.responses)) {
        html += '<p>' + esc(status) + ': ' + esc(r.description) + '</p>';
        if (r.content) for (const c of Object.values(r.content)) html += pre(c.schema);
      }
      html += '</div></details>';
    }
  }
  root.innerHTML = html;
})();
</script>
</body>
</html>
`;
