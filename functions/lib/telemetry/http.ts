import type { Telemetry } from './index.ts';

type Fetch = (req: Request) => Response | Promise<Response>;

/**
 * The splitter's server as traced: each POST (chat completions, feedback) is a server span, child
 * of the caller's `traceparent` header when it sends one, that ends when the response body has
 * been sent (a streamed answer included). Reads (health, metrics, job API) are not traced.
 * @example serve({ fetch: tracedFetch(telemetry, app.fetch) })
 */
export function tracedFetch(telemetry: Telemetry, fetch: Fetch): Fetch {
  if (!telemetry.enabled) return fetch;
  return (req) => {
    if (req.method !== 'POST') return fetch(req);
    const url = new URL(req.url);
    const parent = telemetry.fromHeaders({ traceparent: req.headers.get('traceparent') ?? undefined, tracestate: req.headers.get('tracestate') ?? undefined });
    const attributes = { 'http.request.method': req.method, 'url.path': url.pathname, 'http.route': url.pathname, 'server.port': Number(url.port) || undefined };
    return telemetry.begin(`${req.method} ${url.pathname}`, { kind: 'server', parent, attributes }, async (span) => {
      let res: Response;
      try {
        res = await fetch(req);
      } catch (err) {
        span.end(err);
        throw err;
      }
      span.set({ 'http.response.status_code': res.status, 'aiproc.job.id': res.headers.get('x-request-id') ?? undefined });
      if (!res.body) {
        span.end(res.status >= 500 ? new Error(`HTTP ${res.status}`) : undefined);
        return res;
      }
      const reader = res.body.getReader();
      let open = true;
      const end = (err?: unknown) => {
        if (open) span.end(err);
        open = false;
      };
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read();
            if (done) {
              end();
              controller.close();
            } else controller.enqueue(value);
          } catch (err) {
            end(err);
            controller.error(err);
          }
        },
        // A client that goes away cancels the body: the span ends then, and the cancel reaches the route.
        cancel(reason) {
          span.set({ 'aiproc.client.gone': true });
          end();
          return reader.cancel(reason);
        },
      });
      return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    });
  };
}
