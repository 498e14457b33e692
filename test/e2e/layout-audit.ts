/**
 * Layout checks run inside the page (passed to page.evaluate, so each function is
 * self-contained: no imports, no closures over this module). The test tsconfig has no DOM
 * library, so the few DOM members used are typed here.
 */

interface Rect {
  left: number;
  right: number;
  top: number;
  width: number;
  height: number;
}

interface El {
  tagName: string;
  className: unknown;
  textContent: string | null;
  parentElement: El | null;
  children: ArrayLike<El>;
  childNodes: ArrayLike<{ nodeType: number; textContent: string | null }>;
  scrollWidth: number;
  clientWidth: number;
  clientHeight: number;
  scrollLeft: number;
  getBoundingClientRect(): Rect;
  closest(selector: string): El | null;
  matches(selector: string): boolean;
  contains(other: El): boolean;
  hasAttribute(name: string): boolean;
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  scrollIntoView(options: { block: string; inline: string }): void;
}

interface Dom {
  document: {
    documentElement: El;
    body: El;
    querySelectorAll(selector: string): ArrayLike<El>;
    elementFromPoint(x: number, y: number): El | null;
  };
  getComputedStyle(el: El): { overflowX: string; visibility: string; position: string };
}

/** Containers meant to scroll sideways (tables, the compact navigation, the log box). */
export const X_SCROLLERS = '.table-wrap, .vtable, .nav-scroll, .logbox, .card > table.table';

/**
 * Every visible element whose box sticks out of its clipping or scrolling ancestor (other than
 * the sideways scrollers named by `xScrollers`), every element that cuts its own text off
 * (an ellipsis) outside a table cell with a tooltip, every text squeezed into a sliver, and a
 * page that scrolls sideways. Returns one line per problem (empty: the layout fits).
 */
export function layoutProblems(xScrollers: string): string[] {
  const { document, getComputedStyle } = globalThis as unknown as Dom;
  const TEXT_NODE = 3;
  const problems: string[] = [];
  const vw = document.documentElement.clientWidth;
  const name = (el: El | null): string => {
    if (!el) return 'the viewport';
    const cls =
      typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
    const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 30);
    return `<${el.tagName.toLowerCase()}${cls}>${text ? ` "${text}"` : ''}`;
  };
  const scrollsX = (el: El): boolean => {
    const o = getComputedStyle(el).overflowX;
    return (o === 'auto' || o === 'scroll') && el.matches(xScrollers);
  };
  if (document.documentElement.scrollWidth > vw + 1)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in a ${vw} px window`);
  for (const el of Array.from(document.body.querySelectorAll('*'))) {
    if (el.closest('.visually-hidden, .skip-link, svg, option, script, style')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.position === 'fixed') continue;
    // The nearest ancestor that clips or scrolls.
    let box: El | null = el.parentElement;
    while (box && box !== document.body && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    if (box === document.body) box = null;
    if (!(box && scrollsX(box))) {
      const b = box ? box.getBoundingClientRect() : { left: 0, right: vw };
      const over = Math.max(r.right - b.right, b.left - r.left);
      if (over > 1) problems.push(`${name(el)} sticks out of ${name(box)} by ${Math.round(over)} px`);
    }
    // An element that cuts off its own content (an ellipsis): only a table cell with the full text in a tooltip may.
    if (cs.overflowX !== 'visible' && !scrollsX(el) && el.scrollWidth > el.clientWidth + 1) {
      const tooltipCell = el.hasAttribute('title') && el.parentElement?.closest(xScrollers);
      if (!tooltipCell)
        problems.push(`${name(el)} cuts off its content (${el.scrollWidth} px in ${el.clientWidth} px)`);
    }
    // Text squeezed into a sliver (a column a few pixels wide).
    const own = Array.from(el.childNodes)
      .filter((n) => n.nodeType === TEXT_NODE)
      .map((n) => n.textContent ?? '')
      .join('')
      .trim();
    if (own.length >= 12 && r.width < 48) problems.push(`${name(el)} is squeezed into ${Math.round(r.width)} px`);
  }
  return problems;
}

/**
 * For every table on the page: scrolls its sideways scroller to the end and checks that the
 * last column's header is then really visible (the element at its centre) and that it lines up
 * with the last cell of the first row (the header scrolls with its rows). One line per problem.
 */
export function unreachableColumns(xScrollers: string): string[] {
  const { document, getComputedStyle } = globalThis as unknown as Dom;
  const problems: string[] = [];
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  const tables = Array.from(document.querySelectorAll('table, [role="table"]')).filter(
    (t) => t.getBoundingClientRect().width > 0,
  );
  for (const [i, t] of tables.entries()) {
    const label = t.getAttribute('aria-label') ?? `table ${i + 1}`;
    const headers = Array.from(t.querySelectorAll('thead th, [role="columnheader"]'));
    const last = headers.at(-1);
    if (!last) continue;
    const scroller = t.matches(xScrollers) ? t : t.closest(xScrollers);
    const ok = scroller && ['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX);
    if (scroller && ok) scroller.scrollLeft = scroller.scrollWidth;
    last.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    if (scroller && ok) scroller.scrollLeft = scroller.scrollWidth;
    const r = last.getBoundingClientRect();
    const x = Math.min(Math.max(r.left + r.width / 2, 0), vw - 1);
    const y = Math.min(Math.max(r.top + r.height / 2, 0), vh - 1);
    const hit = document.elementFromPoint(x, y);
    const seen = hit !== null && (hit === last || last.contains(hit)) && r.right <= vw + 1 && r.left >= -1;
    if (!seen)
      problems.push(
        `${label}: the last column "${(last.textContent ?? '').trim()}" cannot be scrolled into view${ok ? '' : ' (the table is not in a sideways scroller)'}`,
      );
    // The first body row with a cell per column (a note spanning the row says nothing about alignment).
    const columns = last.parentElement?.children.length ?? 0;
    const firstRow = Array.from(t.querySelectorAll('tbody tr, [role="rowgroup"]:not(:first-child) [role="row"]')).find(
      (row) => row.children.length === columns,
    );
    const cell = firstRow ? Array.from(firstRow.children).at(-1) : undefined;
    if (cell && seen) {
      const c = cell.getBoundingClientRect();
      if (Math.abs(c.left - r.left) > 2 || Math.abs(c.right - r.right) > 2)
        problems.push(
          `${label}: the header "${(last.textContent ?? '').trim()}" does not scroll with its rows (header at ${Math.round(r.left)}–${Math.round(r.right)} px, cell at ${Math.round(c.left)}–${Math.round(c.right)} px)`,
        );
    }
    if (scroller && ok) scroller.scrollLeft = 0;
  }
  return problems;
}
