import { Hono } from 'hono';
import { html, raw } from 'hono/html';
import { CONSOLE_CSS, CONSOLE_JS } from './client.ts';

/**
 * `GET /console`: the operator console, one server-rendered page with its small script (no build
 * step). The page holds no data: it reads `/v1/console/overview` and the job event streams with
 * the admin key the operator types in (kept in this tab's sessionStorage), so a key is never in a URL.
 * @example app.route('/console', consolePage())
 */
export function consolePage(): Hono {
  const app = new Hono();
  app.get('/', (c) =>
    c.html(html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>aiproc console</title>
    <link rel="icon" href="data:," />
    <style>${raw(CONSOLE_CSS)}</style>
  </head>
  <body>
    <header>
      <h1>aiproc console</h1>
      <form id="key-form" autocomplete="off">
        <label>Admin key <input id="key" type="password" placeholder="open when auth is off" /></label>
        <button type="submit">Use</button>
      </form>
      <span id="status" role="status"></span>
    </header>
    <main>
      <section>
        <h2>Jobs</h2>
        <div class="legend">
          <i style="background:#9db4d6"></i>plan <i style="background:#e5e7eb"></i>queued <i style="background:#fde68a"></i>waits on earlier parts
          <i style="background:#6aa56a"></i>part <i style="background:#d9534f"></i>failed part <i style="background:#8e7cc3"></i>synthesis
        </div>
        <div id="jobs"></div>
      </section>
      <section><h2>Models</h2><table id="models"><thead><tr><th>model</th><th>running</th><th>completed</th><th>failed</th><th>error rate</th></tr></thead><tbody></tbody></table></section>
      <section><h2>Rules</h2><table id="rules"><thead><tr><th>rule</th><th>v</th><th>scope</th><th>model</th><th>text</th><th>origin</th><th>jobs</th><th>ratings</th><th>avg score</th><th>state</th><th></th></tr></thead><tbody></tbody></table></section>
    </main>
    <script>${raw(CONSOLE_JS)}</script>
  </body>
</html>`),
  );
  return app;
}
