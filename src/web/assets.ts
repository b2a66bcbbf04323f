/**
 * The files the pages load from `/assets/`, read into memory once at start-up: the stylesheet,
 * the browser scripts (compiled from src/web/browser and src/web/shared into dist/web), and
 * Chart.js from its npm package (served from here, never from a CDN). Only the files listed here
 * are served; a path is never joined onto a folder, so `/assets/../config.toml` names nothing.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Logger } from '../logger.js';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The package's root: this file is src/web/assets.ts or dist/web/assets.js, two folders down. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const JS = 'text/javascript; charset=utf-8';

/** URL path under /assets/ → where the file is. */
function sources(): Record<string, { path: string; type: string }> {
  const compiled = (name: string) => ({ path: join(ROOT, 'dist', 'web', name), type: JS });
  const chart = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  return {
    // Beside this module: src/web/static, or dist/web/static where the build copies it.
    'style.css': {
      path: fileURLToPath(new URL('./static/style.css', import.meta.url)),
      type: 'text/css; charset=utf-8',
    },
    'chart.umd.min.js': { path: chart, type: JS },
    'browser/home.js': compiled('browser/home.js'),
    'browser/race-page.js': compiled('browser/race-page.js'),
    'browser/overlay.js': compiled('browser/overlay.js'),
    'browser/live.js': compiled('browser/live.js'),
    'browser/dom.js': compiled('browser/dom.js'),
    'shared/render.js': compiled('shared/render.js'),
    'shared/types.js': compiled('shared/types.js'),
  };
}

/** Reads every asset; one that is missing (dist/ not built) is logged once and answers 404. */
export function loadAssets(logger: Logger): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const missing: string[] = [];
  let entries: Record<string, { path: string; type: string }>;
  try {
    entries = sources();
  } catch (error) {
    logger.warn({ err: error }, 'web page assets unavailable (is chart.js installed?)');
    return assets;
  }
  for (const [name, { path, type }] of Object.entries(entries)) {
    try {
      const body = readFileSync(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      assets.set(name, { body, type, etag });
    } catch {
      missing.push(name);
    }
  }
  if (missing.length > 0)
    logger.warn(
      { missing },
      'some web page assets are missing (run `npm run build`): pages work, but do not update live',
    );
  return assets;
}
