// dom.js - a tiny element builder. No framework: views build DOM nodes with
// h() / svg() and replace a region's children when the data changes.

const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttrs(el, attrs, isSvg) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (!isSvg && (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden')) el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** h('button', {class:'x', onclick: fn}, 'text', child...) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs, false);
  append(el, children);
  return el;
}

/** svg('circle', {cx:1, cy:2, r:3}) */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs, true);
  append(el, children);
  return el;
}

/** Replace el's children, keeping the focus on the element with the same
 * data-fk (focus key) if the focused element was inside el. */
export function replaceKeepFocus(el, ...children) {
  const active = document.activeElement;
  const fk = active && el.contains(active) ? active.getAttribute('data-fk') : null;
  el.replaceChildren();
  append(el, children);
  if (fk) {
    const again = el.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

let idn = 0;
export function uid(prefix = 'u') {
  idn += 1;
  return `${prefix}${idn}`;
}
