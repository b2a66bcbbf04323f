/**
 * A real browser for the web page tests: Debian's `chromium` (installed by `.ci/run` when missing)
 * driven by `playwright-core`, which downloads nothing. One browser per test file, a fresh
 * context (cookies, storage, viewport) per test, screenshots kept as test artefacts, and the
 * checks a person would otherwise do by eye: text contrast (WCAG 2 AA) and a phone-width layout.
 *
 * The tests are type-checked without the DOM library, so code that runs in the page is kept in
 * strings here rather than in functions (which would also be at the mercy of the transpiler).
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go: `test-artifacts/screenshots/<name>.png` at the repository's root. */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../test-artifacts/screenshots/', import.meta.url));

/**
 * Chromium as this closed machine wants it: no sandbox (tests may run as root), no GPU, and none of
 * the background connections (updates, sync, field trials, QUIC) that would be refused here and
 * slow everything down. Playwright gives every launch a fresh temporary profile of its own.
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
    ],
  });
}

export interface OpenOptions {
  /** Default 1280×800; see {@link PHONE}. */
  viewport?: { width: number; height: number };
  /** Wait for this selector after the load (default: none). */
  waitFor?: string;
  /** `prefers-color-scheme` (default light). */
  colorScheme?: 'light' | 'dark';
}

export const PHONE = { width: 375, height: 740 } as const;

/** What went wrong in a page: uncaught exceptions, console errors (CSP refusals show up there). */
const pageProblems = new WeakMap<Page, string[]>();

/** The errors a page has logged or thrown since it was opened. */
export function problemsOf(page: Page): string[] {
  return pageProblems.get(page) ?? [];
}

export interface BrowserHarness {
  readonly browser: Browser;
  /** Opens `url` in a new page of a context that is closed after the test. */
  open(url: string, options?: OpenOptions): Promise<Page>;
  /** A new page showing `html` (for checking the checks). */
  render(html: string, options?: OpenOptions): Promise<Page>;
}

/**
 * Launches one browser for the test file (beforeAll) and closes it after (afterAll); every page
 * opened with `open` is closed after its test, before the helpers stop the app it talks to.
 */
export function useBrowser(): BrowserHarness {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser() {
      if (browser === undefined) throw new Error('the browser is launched in beforeAll');
      return browser;
    },
    async open(url, options = {}) {
      const page = await newPage(options);
      const response = await page.goto(url);
      if (response === null || !response.ok()) throw new Error(`GET ${url}: ${response?.status() ?? 'no response'}`);
      if (options.waitFor !== undefined) await page.waitForSelector(options.waitFor);
      return page;
    },
    async render(html, options = {}) {
      const page = await newPage(options);
      await page.setContent(html);
      if (options.waitFor !== undefined) await page.waitForSelector(options.waitFor);
      return page;
    },
  };

  async function newPage(options: OpenOptions): Promise<Page> {
    if (browser === undefined) throw new Error('the browser is launched in beforeAll');
    const context = await browser.newContext({
      viewport: options.viewport ?? { width: 1280, height: 800 },
      colorScheme: options.colorScheme ?? 'light',
    });
    contexts.push(context);
    const page = await context.newPage();
    const problems: string[] = [];
    pageProblems.set(page, problems);
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      // Failed loads are reported below with their address (the console's line has none).
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        problems.push(`console: ${message.text()}`);
    });
    page.on('response', (response) => {
      // Chromium asks for /favicon.ico on its own; a page without one is not broken.
      if (response.status() >= 400 && new URL(response.url()).pathname !== '/favicon.ico')
        problems.push(`HTTP ${response.status()}: ${response.request().method()} ${response.url()}`);
    });
    page.on('requestfailed', (request) => {
      const failure = request.failure()?.errorText ?? 'failed';
      // A stream cut when the test closes the page or stops the app is no fault of the page.
      if (!/ERR_ABORTED/.test(failure))
        problems.push(`request failed (${failure}): ${request.method()} ${request.url()}`);
    });
    return page;
  }
}

/**
 * Saves a full-page screenshot as `test-artifacts/screenshots/<name>.png` and returns its path.
 * `transparent` keeps a transparent page background transparent in the PNG (the overlay).
 */
export async function screenshot(page: Page, name: string, options: { transparent?: boolean } = {}): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: true, omitBackground: options.transparent ?? false });
  return path;
}

/** Evaluates `source` (a function's text) in the page with `argument`, as an immediately called expression. */
export function run<T>(page: Page, source: string, argument: unknown = null): Promise<T> {
  return page.evaluate<T>(`(${source})(${JSON.stringify(argument)})`);
}

export interface ContrastProblem {
  /** A short path to the element: `main > table#standings > tr[data-entrant="Alpha"] > td.time`. */
  element: string;
  text: string;
  color: string;
  background: string;
  ratio: number;
  required: number;
}

export interface ContrastReport {
  /** Text elements checked. */
  checked: number;
  problems: ContrastProblem[];
  /** Elements whose background is an image or gradient, which this check cannot judge. */
  skipped: string[];
}

/**
 * WCAG 2 contrast of every visible element with text of its own, inside `scope` (a selector; every
 * element matching it is a root, default the body). The text's computed colour (with the opacity of
 * its ancestors) is laid over the first opaque background up the tree, semi-transparent ones
 * composited on the way. Below the scope's roots nothing is known to be behind the text: the page's
 * canvas (white) for a page, or, with `transparentBackdrop`, anything a stream may show — then the
 * worse of a black and a white backdrop counts. 4.5:1 for normal text, 3:1 for large text (24 px, or
 * 18.66 px bold).
 */
export function checkContrast(
  page: Page,
  options: { scope?: string; transparentBackdrop?: boolean } = {},
): Promise<ContrastReport> {
  return run<ContrastReport>(page, CONTRAST_SCRIPT, {
    scope: options.scope ?? 'body',
    transparentBackdrop: options.transparentBackdrop ?? false,
  });
}

/**
 * Colour arithmetic both in-page checks share, as script text: `parse` (any CSS colour to sRGB
 * bytes, by letting a canvas parse it), `over` (alpha compositing), `ratio` (WCAG contrast).
 */
const COLOUR_HELPERS = String.raw`
  const probe = document.createElement('canvas');
  probe.width = probe.height = 1;
  const probeContext = probe.getContext('2d', { willReadFrequently: true });
  const parse = (css) => {
    probeContext.clearRect(0, 0, 1, 1);
    probeContext.fillStyle = '#000';
    probeContext.fillStyle = css;
    probeContext.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = probeContext.getImageData(0, 0, 1, 1).data;
    return { r, g, b, a: a / 255 };
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const channel = (v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
`;

const CONTRAST_SCRIPT = String.raw`function ({ scope, transparentBackdrop }) {
  ${COLOUR_HELPERS}
  const css = (c) => 'rgba(' + [c.r, c.g, c.b].map(Math.round).join(', ') + ', ' + c.a.toFixed(2) + ')';
  const describe = (el) => {
    const parts = [];
    for (let node = el; node && node !== document.body && parts.length < 5; node = node.parentElement) {
      let part = node.localName;
      if (node.id) part += '#' + node.id;
      else if (node.classList.length) part += '.' + [...node.classList].join('.');
      for (const attr of node.getAttributeNames())
        if (attr.startsWith('data-')) part += '[' + attr + '="' + node.getAttribute(attr) + '"]';
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  const WHITE = { r: 255, g: 255, b: 255, a: 1 };
  const BLACK = { r: 0, g: 0, b: 0, a: 1 };
  const roots = [...document.querySelectorAll(scope)];
  const report = { checked: 0, problems: [], skipped: [] };
  const seen = new Set();
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT);
    for (let el = walker.currentNode; el; el = walker.nextNode()) {
      if (seen.has(el)) continue;
      seen.add(el);
      if (['script', 'style', 'noscript', 'template', 'title'].includes(el.localName)) continue;
      const text = [...el.childNodes]
        .filter((n) => n.nodeType === Node.TEXT_NODE)
        .map((n) => n.textContent)
        .join('')
        .replace(/\s+/g, ' ')
        .trim();
      if (text === '') continue;
      if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true })) continue;
      const rect = el.getBoundingClientRect();
      // Nothing to see, or visually hidden for screen readers (a 1 px clipped box).
      if (rect.width <= 1 || rect.height <= 1) continue;
      const style = getComputedStyle(el);
      // The opacity of the element and its ancestors fades the text (and its own backgrounds,
      // which this ignores: they fade towards what is behind them, the same way).
      let opacity = 1;
      for (let node = el; node; node = node.parentElement) opacity *= Number(getComputedStyle(node).opacity);
      const fg = parse(style.color);
      fg.a *= opacity;
      // Backgrounds from the element up to the scope's root (or the document), nearest first.
      const layers = [];
      let opaque = null;
      let unknown = false;
      const stop = transparentBackdrop ? root.parentElement : null;
      for (let node = el; node && node !== stop; node = node.parentElement) {
        const s = getComputedStyle(node);
        if (s.backgroundImage !== 'none') {
          unknown = true;
          break;
        }
        const bg = parse(s.backgroundColor);
        if (bg.a === 0) continue;
        if (bg.a >= 1) {
          opaque = bg;
          break;
        }
        layers.push(bg);
      }
      if (unknown) {
        report.skipped.push(describe(el));
        continue;
      }
      const backdrops = opaque ? [opaque] : transparentBackdrop ? [BLACK, WHITE] : [WHITE];
      const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
      const required = large ? 3 : 4.5;
      let worst = null;
      for (const backdrop of backdrops) {
        let bg = backdrop;
        for (const layer of layers.slice().reverse()) bg = over(layer, bg);
        const shown = over(fg, bg);
        const r = ratio(shown, bg);
        if (worst === null || r < worst.ratio) worst = { ratio: r, color: css(shown), background: css(bg) };
      }
      report.checked++;
      if (worst.ratio < required)
        report.problems.push({
          element: describe(el),
          text: text.slice(0, 60),
          color: worst.color,
          background: worst.background,
          ratio: Math.round(worst.ratio * 100) / 100,
          required,
        });
    }
  }
  return report;
}`;

export interface LayoutReport {
  innerWidth: number;
  innerHeight: number;
  scrollWidth: number;
  scrollHeight: number;
  /** Elements reaching past the right of the viewport (at most 10; some may scroll inside a box of their own). */
  overflowing: string[];
}

/** The page's scroll size against the viewport, and what sticks out sideways. */
export function layout(page: Page): Promise<LayoutReport> {
  return run<LayoutReport>(page, LAYOUT_SCRIPT);
}

const LAYOUT_SCRIPT = String.raw`function () {
  const root = document.scrollingElement;
  const overflowing = [];
  for (const el of document.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    if (rect.width > 0 && rect.right > innerWidth + 0.5 && overflowing.length < 10)
      overflowing.push(el.localName + (el.id ? '#' + el.id : '') + ' right=' + Math.round(rect.right));
  }
  return {
    innerWidth,
    innerHeight,
    scrollWidth: root.scrollWidth,
    scrollHeight: root.scrollHeight,
    overflowing,
  };
}`;

/**
 * The phone check on a page already open: resized to 375×740 (a window narrowed, a phone turned),
 * it does not scroll sideways (`document.scrollingElement.scrollWidth <= innerWidth`). To check a
 * page as a phone first loads it, open it with `{ viewport: PHONE }` and call {@link layout}.
 */
export async function phoneLayout(page: Page): Promise<LayoutReport> {
  await page.setViewportSize(PHONE);
  return layout(page);
}

/** The page's background: the computed background colour of `html` and `body`, as sRGB alpha. */
export function pageBackgroundAlpha(page: Page): Promise<{ html: number; body: number; images: string[] }> {
  return run(
    page,
    String.raw`function () {
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = 1;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      const alpha = (css) => {
        ctx.clearRect(0, 0, 1, 1);
        ctx.fillStyle = css;
        ctx.fillRect(0, 0, 1, 1);
        return ctx.getImageData(0, 0, 1, 1).data[3] / 255;
      };
      const html = getComputedStyle(document.documentElement);
      const body = getComputedStyle(document.body);
      return {
        html: alpha(html.backgroundColor),
        body: alpha(body.backgroundColor),
        images: [html.backgroundImage, body.backgroundImage].filter((image) => image !== 'none'),
      };
    }`,
  );
}

/** How many pixels of a canvas are not fully transparent, and its `data-drawn` attribute. */
export function canvasInk(
  page: Page,
  selector: string,
): Promise<{ drawn: string | null; inked: number; total: number }> {
  return run(
    page,
    String.raw`function (selector) {
      const canvas = document.querySelector(selector);
      if (!canvas) return { drawn: null, inked: 0, total: 0 };
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let inked = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) inked++;
      return { drawn: canvas.getAttribute('data-drawn'), inked, total: data.length / 4 };
    }`,
    selector,
  );
}

/** The trimmed text of every element matching `selector`, in document order. */
export async function texts(page: Page, selector: string): Promise<string[]> {
  return (await page.locator(selector).allTextContents()).map((text) => text.replace(/\s+/g, ' ').trim());
}

/** The value of `attribute` on every element matching `selector`, in document order. */
export function attributes(page: Page, selector: string, attribute: string): Promise<Array<string | null>> {
  return run(
    page,
    String.raw`function ([selector, attribute]) {
      return [...document.querySelectorAll(selector)].map((el) => el.getAttribute(attribute));
    }`,
    [selector, attribute],
  );
}

/**
 * Elements matching `selector` whose text a person cannot see whole without scrolling sideways: it
 * ends past the viewport, or past a box of theirs that clips or scrolls (overflow-x).
 */
export function cutOff(page: Page, selector: string): Promise<string[]> {
  return run(
    page,
    String.raw`function (selector) {
      const cut = [];
      for (const el of document.querySelectorAll(selector)) {
        // The text itself, not its cell's padding: an empty or half-empty cell may overhang harmlessly.
        if (el.textContent.trim() === '') continue;
        const range = document.createRange();
        range.selectNodeContents(el);
        const rect = range.getBoundingClientRect();
        if (rect.width === 0) continue;
        let right = innerWidth;
        for (let box = el.parentElement; box; box = box.parentElement) {
          if (getComputedStyle(box).overflowX !== 'visible') right = Math.min(right, box.getBoundingClientRect().right);
        }
        if (rect.right > right + 0.5) {
          const row = el.closest('[data-entrant]');
          cut.push((row ? row.getAttribute('data-entrant') + ' ' : '') + el.className + ' right=' + Math.round(rect.right) + ' > ' + Math.round(right));
        }
      }
      return cut;
    }`,
    selector,
  );
}

export interface ChartTextReport {
  /** The background behind the canvas (the first opaque one up the tree, or the white canvas of the page). */
  background: string;
  parts: Array<{ part: string; color: string; ratio: number }>;
}

/**
 * The colours a Chart.js chart draws its text in (tick labels, axis titles, legend), as resolved
 * by Chart.js itself, against the background behind the canvas. Chart.js's default text colour
 * (#666) is fine on white and too faint on a dark page; a check by DOM alone never sees it.
 */
export function chartTextContrast(page: Page, selector: string): Promise<ChartTextReport> {
  return run<ChartTextReport>(
    page,
    String.raw`function (selector) {
      const canvasEl = document.querySelector(selector);
      const chart = window.Chart && window.Chart.getChart(canvasEl);
      if (!chart) throw new Error('no Chart.js chart on ' + selector);
      ${COLOUR_HELPERS}
      const css = (c) => 'rgb(' + [c.r, c.g, c.b].map(Math.round).join(', ') + ')';
      const layers = [];
      let bg = { r: 255, g: 255, b: 255, a: 1 };
      for (let node = canvasEl; node; node = node.parentElement) {
        const colour = parse(getComputedStyle(node).backgroundColor);
        if (colour.a === 0) continue;
        if (colour.a >= 1) {
          bg = colour;
          break;
        }
        layers.push(colour);
      }
      for (const layer of layers.reverse()) bg = over(layer, bg);
      const parts = [];
      const add = (part, colour) => {
        if (typeof colour !== 'string') return;
        const shown = over(parse(colour), bg);
        parts.push({ part, color: css(shown), ratio: Math.round(ratio(shown, bg) * 100) / 100 });
      };
      for (const [id, scale] of Object.entries(chart.scales)) {
        if (scale.options.display === false) continue;
        if (scale.options.ticks.display !== false) add(id + ' ticks', scale.options.ticks.color);
        if (scale.options.title.display) add(id + ' title', scale.options.title.color);
      }
      if (chart.legend && chart.legend.options.display !== false) add('legend', chart.legend.options.labels.color);
      return { background: css(bg), parts };
    }`,
    selector,
  );
}
