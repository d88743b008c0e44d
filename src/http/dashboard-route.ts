// The browser dashboard: the static files of dashboard/ (plain HTML, JS and CSS; no build step), served at `/`.
//
// The files are read once at start-up into memory and each is registered as its own exact route, so a request can
// only ever name one of them: `..`, encoded slashes or any other path never reach the file system, they fall through
// to the 404 fallback. The page itself talks to the member through etcd's JSON API (/v3/...), /metrics and /health.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARD_FILE_BYTES_MAX, DASHBOARD_FILES_MAX } from '../config/limits.js';
import type { HttpRoutes } from './server.js';
import { reply } from './reply.js';

/** dist/src/http -> the package root's dashboard/ */
export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dashboard');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

interface StaticFile {
  body: Buffer;
  contentType: string;
}

/** The servable files of a directory (not recursive): known extensions, plain names, bounded count and size. */
export function loadDashboardFiles(dir: string = DASHBOARD_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    return files; // no dashboard shipped: `/` is a 404 like any unknown path
  }
  for (const name of names) {
    const contentType = CONTENT_TYPES[path.extname(name)];
    if (contentType === undefined || !/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) continue;
    const file = path.join(dir, name);
    // lstat: a symbolic link is not followed, so nothing outside dashboard/ can be made servable by linking it in
    const stat = fs.lstatSync(file);
    if (!stat.isFile() || stat.size > DASHBOARD_FILE_BYTES_MAX) continue;
    if (files.size >= DASHBOARD_FILES_MAX) break;
    files.set(name, { body: fs.readFileSync(file), contentType });
  }
  return files;
}

export const dashboardRoutes: HttpRoutes = (app) => {
  const files = loadDashboardFiles();
  const headers = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' };
  for (const [name, file] of files) {
    const serve = (res: Parameters<Parameters<typeof app.get>[1]>[0]): void => reply(res, '200 OK', file.contentType, file.body, headers);
    app.get(`/${name}`, serve);
    if (name === 'index.html') app.get('/', serve);
  }
};
