/**
 * The dashboard at /ui: the files `npm run build:ui` writes to ui/dist (committed), served without
 * a key. The page asks for the key and sends it with every data call; the files themselves hold
 * nothing a tenant owns. A strict Content-Security-Policy lets the page run only its own script
 * and style and talk only to this origin, so injected markup could neither run nor send a key
 * elsewhere.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export const UI_DIST = fileURLToPath(new URL('../../../../ui/dist/', import.meta.url));

export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // The empty favicon is a data: URL; charts are canvases.
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

async function loadFiles(dir: string): Promise<Map<string, StaticFile>> {
  const files = new Map<string, StaticFile>();
  for (const name of await readdir(dir)) {
    const type = CONTENT_TYPES[path.extname(name)];
    if (!type) continue;
    const body = await readFile(path.join(dir, name));
    files.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  if (!files.has('index.html')) throw new Error(`no dashboard in ${dir}: run \`npm run build:ui\``);
  return files;
}

const uiRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, opts) => {
  // Read once at start: a handful of small files, and a deploy replaces the process anyway.
  const files = await loadFiles(opts.dir ?? UI_DIST);
  const schema = { hide: true };

  const send = (reply: FastifyReply, file: StaticFile, ifNoneMatch: string | undefined) => {
    reply
      .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      // Revalidated every time: the names do not change between builds, the ETag does.
      .header('cache-control', 'no-cache')
      .header('etag', file.etag);
    if (ifNoneMatch === file.etag) return reply.code(304).send();
    return reply.type(file.type).send(file.body);
  };

  // Relative asset URLs in index.html resolve against /ui/, not /.
  app.get('/ui', { schema }, (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', { schema }, (request, reply) =>
    send(reply, files.get('index.html')!, request.headers['if-none-match']),
  );
  app.get<{ Params: { file: string } }>('/ui/:file', { schema }, (request, reply) => {
    const file = files.get(request.params.file);
    return file ? send(reply, file, request.headers['if-none-match']) : reply.callNotFound();
  });
};

export default uiRoutes;
