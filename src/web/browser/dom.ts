/** Small DOM helpers the page scripts share. */

export function byId(id: string): HTMLElement | null {
  return document.getElementById(id);
}

/** Replaces an element's content with HTML made by shared/render.ts (which escapes every outside text). */
export function setHtml(id: string, html: string): void {
  const element = byId(id);
  if (element !== null && element.innerHTML !== html) element.innerHTML = html;
}

export function setText(id: string, text: string): void {
  const element = byId(id);
  if (element !== null && element.textContent !== text) element.textContent = text;
}

/** The JSON a page embedded for its script (`<script type="application/json" id=...>`). */
export function embedded<T>(id: string): T | undefined {
  const text = byId(id)?.textContent;
  if (text == null || text === '') return undefined;
  return JSON.parse(text) as T;
}

/** Runs `draw` once in the next animation frame however many times it is asked for before then. */
export function batched(draw: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      draw();
    });
  };
}
