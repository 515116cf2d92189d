// qr.js - a QR code as SVG, from the qrcode-generator library (npm; copied
// into /vendor/ by scripts/setup.sh and served by tafeld: nothing is fetched
// from the internet). Loaded on demand, so the page still works (showing the
// join URL in text) if the vendor file is missing.

import { svg } from './dom.js';

let lib = null;
async function load() {
  if (!lib) lib = import('/vendor/qrcode-generator.js').then((m) => m.default);
  return lib;
}

/** An <svg> QR code of TEXT, or null if the library is unavailable. */
export async function qrSvg(text, label) {
  let qrcode;
  try { qrcode = await load(); } catch { return null; }
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const q = 4; // quiet zone
  let d = '';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) d += `M${c + q} ${r + q}h1v1h-1z`;
    }
  }
  return svg('svg', { class: 'qr', viewBox: `0 0 ${n + 2 * q} ${n + 2 * q}`, role: 'img', 'aria-label': label, 'shape-rendering': 'crispEdges', 'data-qr': text },
    svg('rect', { class: 'qr-bg', x: 0, y: 0, width: n + 2 * q, height: n + 2 * q }),
    svg('path', { class: 'qr-fg', d }));
}
