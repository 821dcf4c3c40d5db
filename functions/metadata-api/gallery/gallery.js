// imgpipe gallery: one page over the metadata API (GET /images, GET /images/{id}, POST /uploads).
// Plain ES2020 with no build step. Every API URL is relative, so the page works on any origin,
// including a local emulator; the only other requests go to presigned storage URLs from the API.
// Text from the API (file names, reasons, EXIF) is hostile input: it only ever goes into the page
// as text nodes or attribute values, never as HTML.
'use strict';

// ---- Settings -------------------------------------------------------------------------------

/** Photos per page; `?page_size=N` in the page URL overrides it (sent to the API as `limit`). */
const PAGE_SIZE = 24;
/** The API refuses a `limit` above 100. */
const MAX_LIMIT = 100;
/** The filter form's fields, which are also the API's and the page URL's parameter names. */
const FILTERS = ['status', 'camera', 'taken_from', 'taken_to', 'prefix'];
const UPLOAD_CONCURRENCY = 3;
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 4000;
const POLL_LIMIT_MS = 2 * 60 * 1000;
const UPLOADS_OFF = 'This deployment does not accept uploads.';
/** For files whose browser-reported type is missing or not an image (e.g. .heic on some systems). */
const EXTENSION_TYPES = {
  heic: 'image/heic', heif: 'image/heif', avif: 'image/avif', jpg: 'image/jpeg', jpeg: 'image/jpeg',
  png: 'image/png', webp: 'image/webp', gif: 'image/gif', tif: 'image/tiff', tiff: 'image/tiff',
};
/** Headers a page may not set; content-length is signed but equals the file size the browser sends. */
const UNSETTABLE_HEADERS = new Set(['content-length', 'host', 'connection']);

const $ = (selector) => document.querySelector(selector);
const els = {
  main: $('#main'), note: $('#note'), filters: $('#filters'), clear: $('#clear-filters'),
  cameras: $('#cameras'), fileInput: $('#file-input'), uploadsSection: $('#uploads-section'),
  uploads: $('#uploads'), status: $('#status'), grid: $('#grid'), sentinel: $('#sentinel'),
  loadMore: $('#load-more'), detail: $('#detail'), detailTitle: $('#detail-title'),
  detailBody: $('#detail-body'), detailClose: $('#detail-close'),
  signIn: $('#sign-in'), tokenInput: $('#token-input'),
};

// ---- Small helpers --------------------------------------------------------------------------

/** Builds an element; attributes go through setAttribute and children are appended as text or nodes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value != null && value !== false) node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.flat().filter((c) => c != null && c !== false));
  return node;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const isText = (v) => typeof v === 'string' && v.trim() !== '';
const positive = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);
/** Rounds for display and drops trailing zeros (2.80 → "2.8", 8.0 → "8"). */
const round = (n, digits = 1) => String(Number(n.toFixed(digits)));

/** The last path segment of a source key, which is the uploaded file's name. */
function fileName(key, fallback) {
  const last = String(key ?? '').split('/').filter(Boolean).pop();
  return last || String(fallback ?? 'untitled');
}

/** `make model` joined by one space, exactly as the API's camera filter expects it. */
function cameraName(camera) {
  if (!camera || typeof camera !== 'object') return '';
  return [camera.make, camera.model].filter((v) => typeof v === 'string' && v !== '').join(' ');
}

function reasonText(record) {
  return isText(record.reason) ? record.reason : isText(record.reason_code) ? record.reason_code : 'Rejected (no reason recorded)';
}

const variantPath = (id, name) => `/images/${encodeURIComponent(id)}/variants/${encodeURIComponent(name)}`;
const detailHash = (id) => `#/images/${encodeURIComponent(id)}`;
const dimensions = (w, h) => (positive(w) && positive(h) ? `${w} × ${h}` : null);

function formatBytes(n) {
  if (!positive(n)) return null;
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${round(n / 1e3)} kB`;
  return `${round(n / 1e6)} MB`;
}

/**
 * Calls the API and never throws: resolves to {ok, status, body} or {ok: false, status, code,
 * message}. A body that is not JSON is an error even with a 2xx status (e.g. a proxy's HTML page).
 */
async function api(path, init = {}) {
  let response;
  const token = accessToken();
  const auth = token ? { authorization: `Bearer ${token}` } : {};
  try {
    response = await fetch(path, { ...init, headers: { accept: 'application/json', ...auth, ...(init.headers || {}) } });
  } catch (err) {
    return { ok: false, status: 0, code: 'network', message: `network error (${err.message})` };
  }
  const text = await response.text().catch(() => '');
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
  const error = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
  if (response.ok && body && typeof body === 'object' && !error) return { ok: true, status: response.status, body };
  let message = isText(error?.message) ? error.message : `HTTP ${response.status} ${response.statusText}`.trim();
  if (!error && body === null) message = response.ok ? 'the server did not answer with JSON' : `${message} (not JSON)`;
  // A deployment with an authorizer wants a bearer token: offer the sign-in form.
  if (response.status === 401 || response.status === 403) {
    message = token ? `the API refused the access token (HTTP ${response.status})` : `the API requires sign-in (HTTP ${response.status})`;
    els.signIn.hidden = false;
  }
  return { ok: false, status: response.status, code: error?.code ?? null, message, parameter: error?.parameter };
}

// ---- Sign-in: a deployment with a JWT authorizer takes `Authorization: Bearer <token>` ---------

const TOKEN_KEY = 'imgpipe-access-token';

/** Where the token lives when sessionStorage is off (until the page reloads). */
let tokenInMemory = '';

/** The access token pasted into the sign-in form, kept for this browser tab only. */
function accessToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || tokenInMemory; } catch { return tokenInMemory; }
}

function saveToken(event) {
  event.preventDefault();
  const token = els.tokenInput.value.trim();
  tokenInMemory = token;
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage off: the token lasts until the page reloads */ }
  els.tokenInput.value = '';
  els.signIn.hidden = Boolean(token); // cleared: keep the form for another try
  resetGrid(grid.filters);
}

// ---- Placeholders: a record's ThumbHash, drawn while the thumbnail loads --------------------

/**
 * Renders a ThumbHash (the format of Evan Wallace's ThumbHash, which the pipeline writes as base64)
 * as a PNG data URL, or returns null when the text is not one. A ThumbHash is a few DCT
 * coefficients of the photo in a luminance/chroma space (L, P, Q, and A when it has alpha): a
 * 5-byte header (DC terms, scales, the L grid size), one more for alpha, then 4-bit AC terms in a
 * triangle per channel. The image is their inverse DCT at about 32 pixels a side.
 */
function thumbHashURL(text) {
  let bytes;
  try { bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0)); } catch { return null; }
  if (bytes.length < 5) return null;
  const h24 = bytes[0] | (bytes[1] << 8) | (bytes[2] << 16);
  const h16 = bytes[3] | (bytes[4] << 8);
  const hasAlpha = (h24 >> 23) & 1;
  const landscape = (h16 >> 15) & 1;
  const lMax = hasAlpha ? 5 : 7;
  const lx = Math.max(3, landscape ? lMax : h16 & 7);
  const ly = Math.max(3, landscape ? h16 & 7 : lMax);
  const dc = { l: (h24 & 63) / 63, p: ((h24 >> 6) & 63) / 31.5 - 1, q: ((h24 >> 12) & 63) / 31.5 - 1, a: 1 };
  const scale = { l: ((h24 >> 18) & 31) / 31, p: ((h16 >> 3) & 63) / 63, q: ((h16 >> 9) & 63) / 63, a: 1 };
  let at = 5;
  if (hasAlpha) {
    if (bytes.length < 6) return null;
    dc.a = (bytes[5] & 15) / 15;
    scale.a = (bytes[5] >> 4) / 15;
    at = 6;
  }
  // AC terms: nibbles, low half first, in the triangle cx·ny < nx·(ny − cy) without the DC term.
  let nibble = 0;
  const nextNibble = () => {
    const byte = bytes[at + (nibble >> 1)];
    const value = nibble & 1 ? byte >> 4 : byte & 15;
    nibble += 1;
    return value;
  };
  const triangle = (nx, ny) => {
    const cells = [];
    for (let cy = 0; cy < ny; cy++) for (let cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++) cells.push([cx, cy]);
    return cells;
  };
  const channel = (nx, ny, factor) => triangle(nx, ny).map(([cx, cy]) => [cx, cy, (nextNibble() / 7.5 - 1) * factor]);
  // Chroma is stored 1.25x weaker to survive quantisation; the decoder gives it back.
  const ac = { l: channel(lx, ly, scale.l), p: channel(3, 3, scale.p * 1.25), q: channel(3, 3, scale.q * 1.25) };
  if (hasAlpha) ac.a = channel(5, 5, scale.a);
  if (at + (nibble >> 1) > bytes.length) return null; // too short for its own header
  // The aspect ratio comes from the grid size as stored (before the minimum of 3).
  const ratio = landscape ? lMax / ((h16 & 7) || lMax) : ((h16 & 7) || lMax) / lMax;
  const w = ratio > 1 ? 32 : Math.round(32 * ratio);
  const h = ratio > 1 ? Math.round(32 / ratio) : 32;
  const canvas = document.createElement('canvas');
  canvas.width = w; canvas.height = h;
  const context = canvas.getContext('2d');
  if (!context) return null;
  const image = context.createImageData(w, h);
  const sum = (terms, x, y) => terms.reduce((total, [cx, cy, v]) =>
    total + v * Math.cos(Math.PI / w * (x + 0.5) * cx) * Math.cos(Math.PI / h * (y + 0.5) * cy) * 2, 0);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i += 4) {
      const l = dc.l + sum(ac.l, x, y);
      const p = dc.p + sum(ac.p, x, y);
      const q = dc.q + sum(ac.q, x, y);
      const a = hasAlpha ? dc.a + sum(ac.a, x, y) : 1;
      const b = l - (2 / 3) * p;
      const r = (3 * l - b + q) / 2;
      const clamp = (v) => Math.max(0, Math.min(255, Math.round(v * 255)));
      image.data.set([clamp(r), clamp(r - q), clamp(b), clamp(a)], i);
    }
  }
  context.putImageData(image, 0, 0);
  return canvas.toDataURL();
}

/** The placeholder behind a cell or card: the ThumbHash drawn, else the dominant colour. */
function placeholder(node, item) {
  if (/^#[0-9a-f]{6}$/i.test(item?.dominant_color ?? '')) node.style.backgroundColor = item.dominant_color;
  if (isText(item?.thumbhash)) {
    const url = thumbHashURL(item.thumbhash);
    if (url) {
      node.style.backgroundImage = `url("${url}")`;
      node.style.backgroundSize = 'cover';
      node.dataset.placeholder = 'thumbhash';
    }
  }
}

// ---- Status area: one line for the grid, one for uploads, so neither hides the other --------

function showStatus(owner, text, { error = false, retry = null } = {}) {
  let line = els.status.querySelector(`[data-for="${owner}"]`);
  if (!line) line = els.status.appendChild(el('p', { 'data-for': owner }));
  line.classList.toggle('error', error);
  if (text) line.replaceChildren(text); else line.replaceChildren(); // empty lines collapse (CSS :empty)
  if (retry) {
    const button = el('button', { type: 'button', class: 'secondary' }, 'Retry');
    button.addEventListener('click', retry);
    line.append(' ', button);
  }
}

// ---- Filters, kept in the page's query string so a filtered view can be shared ---------------

/** Only non-empty values: the API refuses an empty parameter such as `taken_from=`. */
function cleanFilters(get) {
  const filters = {};
  for (const name of FILTERS) {
    const value = String(get(name) ?? '');
    // A prefix may legitimately end in a space; everything else is trimmed.
    if (value.trim()) filters[name] = name === 'prefix' ? value : value.trim();
  }
  return filters;
}
const filtersFromURL = () => { const q = new URLSearchParams(location.search); return cleanFilters((n) => q.get(n)); };
const filtersFromForm = () => cleanFilters((n) => els.filters.elements[n].value);
const keyOf = (filters) => JSON.stringify(FILTERS.map((n) => filters[n] ?? ''));
const hasFilters = (filters) => Object.keys(filters).length > 0;

function fillForm(filters) {
  for (const name of FILTERS) {
    const input = els.filters.elements[name];
    const value = filters[name] ?? '';
    // A bookmarked date-time (2024-05-30T15:56:01Z) does not fit a date input: show it as text.
    if (input.type === 'date' && value && !/^\d{4}-\d{2}-\d{2}$/.test(value)) input.type = 'text';
    input.value = value;
  }
}

function pageSize() {
  const n = Number.parseInt(new URLSearchParams(location.search).get('page_size') ?? '', 10);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_LIMIT) : PAGE_SIZE;
}

/** The page URL for some filters; `page_size` is a page setting, kept as it is. */
function pageURL(filters) {
  const q = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) q.set(name, filters[name]);
  const size = new URLSearchParams(location.search).get('page_size');
  if (size) q.set('page_size', size);
  const search = q.toString();
  return location.pathname + (search ? `?${search}` : '');
}

function applyFilters() {
  const filters = filtersFromForm();
  const url = pageURL(filters);
  if (url !== location.pathname + location.search) history.pushState(null, '', url);
  resetGrid(filters);
}

// ---- Grid -----------------------------------------------------------------------------------

const grid = {
  filters: {}, key: '', cursor: null, more: false, loading: false, failed: false,
  pages: 0, generation: 0, shown: new Set(), cameras: new Set(),
};

/** Starts the listing over (new filters, or a history step back to other filters). */
function resetGrid(filters) {
  grid.generation += 1; // a page still in flight for the old filters is dropped when it lands
  Object.assign(grid, { filters, key: keyOf(filters), cursor: null, more: true, loading: false, failed: false, pages: 0 });
  grid.shown.clear();
  els.grid.replaceChildren();
  els.loadMore.hidden = true;
  document.body.dataset.ready = 'false';
  loadPage();
}

async function loadPage() {
  if (grid.loading || !grid.more) return;
  const generation = grid.generation;
  grid.loading = true;
  grid.failed = false;
  els.loadMore.disabled = true;
  els.grid.setAttribute('aria-busy', 'true');
  showStatus('grid', grid.pages === 0 ? 'Loading photos…' : '');

  const query = new URLSearchParams();
  for (const name of FILTERS) if (grid.filters[name]) query.set(name, grid.filters[name]);
  query.set('limit', String(pageSize()));
  if (grid.cursor) query.set('cursor', grid.cursor);
  let result = await api(`/images?${query}`);
  if (generation !== grid.generation) return;
  if (result.ok && !Array.isArray(result.body.items)) result = { ok: false, message: 'the answer has no list of items' };

  grid.loading = false;
  els.loadMore.disabled = false;
  els.grid.removeAttribute('aria-busy');
  if (!result.ok) {
    grid.failed = true; // the observer does not retry on its own; Retry and Load more do
    showStatus('grid', `Could not load photos: ${result.message}`, { error: true, retry: loadPage });
    els.loadMore.hidden = grid.pages === 0;
    document.body.dataset.ready = 'true';
    return;
  }

  const cells = document.createDocumentFragment();
  for (const item of result.body.items) {
    if (!item || typeof item !== 'object' || item.id == null) continue;
    const id = String(item.id);
    if (grid.shown.has(id)) continue; // never the same photo twice, even if pages overlap
    grid.shown.add(id);
    cells.append(cellFor(item, id));
    rememberCamera(cameraName(item.camera));
  }
  els.grid.append(cells);
  grid.pages += 1;
  const next = result.body.next_cursor;
  // A cursor that does not move would page forever.
  grid.cursor = isText(next) && next !== grid.cursor ? next : null;
  grid.more = grid.cursor !== null;
  els.loadMore.hidden = !grid.more;
  if (grid.shown.size === 0 && !grid.more) {
    showStatus('grid', hasFilters(grid.filters) ? 'No photos match these filters.' : 'No photos yet — drop some here');
  } else {
    showStatus('grid', '');
  }
  document.body.dataset.ready = 'true';
  // A short page can leave the sentinel in view, which fires no new event: observing it again
  // makes the observer report it once more.
  if (grid.more && observer) { observer.unobserve(els.sentinel); observer.observe(els.sentinel); }
}

/** The listing's presigned thumbnail (works with a token, which an <img> cannot send), else the
 * API's redirect to the `thumb` variant (records from before the listing had one). */
function thumbnailSrc(item, id) {
  return isText(item?.thumbnail?.url) ? item.thumbnail.url : variantPath(id, 'thumb');
}

/** The smallest variant of a full record, for an upload's card. */
function smallestVariant(record) {
  const variants = Array.isArray(record.variants) ? record.variants : [];
  return variants.reduce((best, v) => (!best || (v.width * v.height) < (best.width * best.height) ? v : best), null);
}

function cellFor(item, id) {
  const status = String(item.status ?? 'unknown');
  const name = fileName(item.source_key, id);
  const camera = cameraName(item.camera);
  const cell = el('a', { class: 'cell', href: detailHash(id), 'data-id': id, 'data-status': status, title: name });
  // The placeholder holds the cell until the thumbnail lands.
  placeholder(cell, item);
  const caption = el('span', { class: 'caption' }, name);
  if (status === 'processed') {
    // `loading` before `src`, or some browsers start the download before they see it is lazy.
    const img = el('img', {
      class: 'thumb', loading: 'lazy', decoding: 'async', width: 200, height: 200,
      alt: camera ? `${name}, ${camera}` : name, src: thumbnailSrc(item, id),
    });
    img.addEventListener('error', () => cell.classList.add('broken'), { once: true });
    cell.append(img, caption);
  } else if (status === 'rejected') {
    cell.append(el('span', { class: 'badge' }, 'Rejected'), caption, el('span', { class: 'reason' }, reasonText(item)));
  } else if (status === 'deleted') {
    cell.append(el('span', { class: 'badge' }, 'Deleted'), caption, el('span', {}, 'This photo was deleted'));
  } else {
    cell.append(el('span', { class: 'badge' }, status), caption);
  }
  return cell;
}

/** Offers cameras seen so far as suggestions: the filter must match `make model` exactly. */
function rememberCamera(camera) {
  if (!camera || grid.cameras.has(camera) || grid.cameras.size >= 200) return;
  grid.cameras.add(camera);
  els.cameras.append(el('option', { value: camera }));
}

/** Loads the next page as the end of the grid scrolls into view (600 px early). */
const observer = 'IntersectionObserver' in window
  ? new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && !grid.failed && grid.pages > 0) loadPage();
  }, { rootMargin: '600px 0px' })
  : null;

/** Links open with Enter; Space should too, as it does for buttons. */
function spaceOpensLinks(container) {
  container.addEventListener('keydown', (event) => {
    const link = event.target.closest?.('a[href]');
    if (event.key === ' ' && link) { event.preventDefault(); link.click(); }
  });
}

// ---- Detail view at #/images/{id} ----------------------------------------------------------

const detail = { id: null, pushed: false, returnFocus: null, generation: 0 };

/** Opens or closes the detail view to match the hash. */
function route(byNavigation) {
  const match = /^#\/images\/([^/?#]+)$/.exec(location.hash);
  if (!match) {
    if (!els.detail.hidden) hideDetail();
    return;
  }
  let id = match[1];
  try { id = decodeURIComponent(id); } catch { /* keep it as written */ }
  // Opened by navigating inside the page: closing can step back instead of adding an entry.
  if (byNavigation && els.detail.hidden) detail.pushed = true;
  openDetail(id);
}

function closeDetail() {
  if (els.detail.hidden) return;
  if (detail.pushed) {
    history.back(); // its hashchange hides the view
  } else {
    // Opened from a bookmarked #/images/… URL: back would leave the page, so drop the hash.
    history.replaceState(history.state, '', location.pathname + location.search);
    hideDetail();
  }
}

function hideDetail() {
  detail.generation += 1;
  detail.pushed = false;
  els.detail.hidden = true;
  els.main.inert = false;
  document.body.classList.remove('detail-open');
  els.detailBody.replaceChildren(); // also stops a large image still downloading
  const back = detail.returnFocus;
  const cell = detail.id && els.grid.querySelector(`.cell[data-id="${CSS.escape(detail.id)}"]`);
  const target = back && back.isConnected && back !== document.body ? back : cell;
  target?.focus?.();
  detail.id = null;
  detail.returnFocus = null;
}

async function openDetail(id) {
  const generation = ++detail.generation;
  if (els.detail.hidden) {
    detail.returnFocus = document.activeElement;
    els.detail.hidden = false;
    els.main.inert = true; // keeps Tab inside the view while it is open
    document.body.classList.add('detail-open');
  }
  detail.id = id;
  els.detail.dataset.state = 'loading';
  els.detailTitle.textContent = 'Photo';
  els.detailBody.replaceChildren(el('p', {}, 'Loading…'));
  els.detailTitle.focus();

  const result = await api(`/images/${encodeURIComponent(id)}`);
  if (generation !== detail.generation) return; // closed, or another photo opened meanwhile
  if (!result.ok) {
    const message = result.code === 'pending'
      ? 'This upload has not been processed yet. Try again in a moment.'
      : result.status === 404 ? `No such photo (${result.message}).` : `Could not load this photo: ${result.message}`;
    const retry = el('button', { type: 'button', class: 'secondary' }, 'Retry');
    retry.addEventListener('click', () => openDetail(id));
    els.detailBody.replaceChildren(el('p', { class: 'reason', role: 'alert' }, message, ' ', retry));
    els.detail.dataset.state = 'error';
    return;
  }
  renderDetail(result.body, id);
  els.detail.dataset.state = 'ready';
}

function exposureText(exif) {
  const parts = [];
  const time = positive(exif.exposure_time);
  if (time) parts.push(time >= 0.3 ? `${round(time)} s` : `1/${Math.round(1 / time)} s`);
  const f = positive(exif.f_number);
  if (f) parts.push(`f/${round(f)}`);
  const iso = positive(exif.iso);
  if (iso) parts.push(`ISO ${iso}`);
  const focal = positive(exif.focal_length_mm ?? exif.focal_length);
  if (focal) parts.push(`${round(focal)} mm`);
  return parts.join(' · ') || null;
}

function gpsText(gps) {
  const lat = gps.latitude;
  const lon = gps.longitude;
  if (typeof lat !== 'number' || typeof lon !== 'number') return 'recorded, but not readable';
  const altitude = typeof gps.altitude_m === 'number' ? `, ${round(gps.altitude_m)} m` : '';
  return `${lat.toFixed(6)}, ${lon.toFixed(6)}${altitude}`;
}

function timeNode(value) {
  if (!isText(value)) return null;
  const date = new Date(value);
  return el('time', { datetime: value }, Number.isNaN(date.getTime()) ? value : date.toLocaleString());
}

function renderDetail(record, requestedId) {
  const id = String(record.id ?? requestedId);
  const name = fileName(record.source_key, id);
  const exif = record.exif && typeof record.exif === 'object' ? record.exif : {};
  const camera = isText(record.camera) ? record.camera : cameraName(exif);
  const variants = Array.isArray(record.variants) ? record.variants.filter((v) => v && typeof v === 'object' && v.name != null) : [];
  els.detailTitle.textContent = name;

  // Left: the picture, or why there is none.
  const visual = el('div', { class: 'visual' });
  if (record.status === 'rejected') {
    visual.append(el('div', { class: 'rejection' },
      el('p', {}, el('strong', {}, 'Rejected: '), el('span', { class: 'reason', 'data-field': 'reason' }, reasonText(record))),
      isText(record.reason_code) ? el('p', {}, 'Code: ', el('code', { 'data-field': 'reason_code' }, record.reason_code)) : null));
  } else if (record.status === 'deleted') {
    visual.append(el('p', { class: 'rejection' }, 'This photo was deleted; its variants are gone.'));
  }
  const area = (v) => (positive(v.width) ?? 0) * (positive(v.height) ?? 0);
  const large = variants.find((v) => v.name === 'large') ?? [...variants].sort((a, b) => area(b) - area(a))[0];
  if (large) {
    visual.append(el('figure', {}, el('img', {
      alt: camera ? `${name}, ${camera}` : name, width: positive(large.width), height: positive(large.height),
      src: isText(large.url) ? large.url : variantPath(id, large.name),
    })));
  } else if (record.status === 'processed') {
    visual.append(el('p', {}, 'No variants were recorded for this photo.'));
  }

  // Right: the facts. The fields the spec names are always there ("unknown" when missing).
  const facts = el('dl');
  const row = (label, field, value, always = true) => {
    if (value == null || value === '') { if (!always) return; value = 'unknown'; }
    facts.append(el('dt', {}, label), el('dd', { 'data-field': field }, value));
  };
  row('Status', 'status', record.status);
  row('Dimensions', 'dimensions', dimensions(record.width, record.height));
  row('Format', 'format', record.format);
  row('MIME type', 'mime_type', record.mime_type, false);
  row('File size', 'bytes', formatBytes(record.bytes), false);
  row('Camera', 'camera', camera || null);
  row('Lens', 'lens', exif.lens ?? exif.lens_model);
  row('Exposure', 'exposure', exposureText(exif));
  // Taken-at is the camera's wall clock with no zone, so it is shown as recorded.
  row('Taken at', 'taken_at', record.taken_at ?? exif.taken_at);
  row('Uploaded at', 'uploaded_at', timeNode(record.uploaded_at));
  // Location is private unless the deployment exposes it; the field is absent otherwise.
  if (record.gps && typeof record.gps === 'object') row('Location', 'gps', gpsText(record.gps));

  const list = el('ul', { class: 'variants' });
  for (const v of variants) {
    const size = [dimensions(v.width, v.height), v.format, formatBytes(v.bytes)].filter(Boolean).join(' · ');
    // The presigned link first: the `href` redirect needs the bearer token a link cannot carry.
    const href = isText(v.url) ? v.url : isText(v.href) ? v.href : variantPath(id, v.name);
    list.append(el('li', {}, el('a', { href }, String(v.name)), size ? ` — ${size}` : ''));
  }
  const side = el('div', {}, facts, el('h3', {}, 'Variants'), variants.length ? list : el('p', { class: 'variants' }, 'None'));
  if (camera) {
    const filter = el('button', { type: 'button', class: 'linkish' }, 'Show photos from this camera');
    filter.addEventListener('click', () => {
      history.replaceState(null, '', location.pathname + location.search);
      hideDetail();
      fillForm({ ...filtersFromForm(), camera });
      applyFilters();
    });
    side.append(el('p', {}, filter));
  }
  const similar = el('section', { class: 'similar', 'aria-label': 'Similar photos' });
  side.append(similar);
  els.detailBody.replaceChildren(visual, side);
  if (record.status === 'processed' && isText(record.phash)) showSimilar(id, similar);
}

/** "Similar photos" in the detail view: near copies of this one, nearest first. */
async function showSimilar(id, section) {
  const generation = detail.generation;
  section.replaceChildren(el('h3', {}, 'Similar photos'), el('p', {}, 'Looking…'));
  const result = await api(`/images/${encodeURIComponent(id)}/similar?limit=12`);
  if (generation !== detail.generation) return;
  if (!result.ok) {
    section.replaceChildren(el('h3', {}, 'Similar photos'), el('p', { class: 'reason' }, `Could not search: ${result.message}`));
    return;
  }
  const items = Array.isArray(result.body.items) ? result.body.items : [];
  const list = el('ul', { class: 'similar-list' });
  for (const item of items) {
    if (!item || item.id == null) continue;
    const otherId = String(item.id);
    const name = fileName(item.source_key, otherId);
    const thumb = el('img', { class: 'thumb', src: thumbnailSrc(item, otherId), alt: name, width: 80, height: 80, loading: 'lazy' });
    placeholder(thumb, item);
    const link = el('a', { href: detailHash(otherId), class: 'similar-item', 'data-id': otherId, title: `${name}: ${item.distance} bits apart` },
      thumb, el('span', { class: 'distance' }, item.distance === 0 ? 'identical' : `${item.distance} bits apart`));
    list.append(el('li', {}, link));
  }
  section.replaceChildren(el('h3', {}, 'Similar photos'),
    items.length ? list : el('p', {}, 'None found.'));
}

// ---- Uploads --------------------------------------------------------------------------------

const uploads = { queue: [], active: 0, disabled: false };

function contentTypeOf(file) {
  if (file.type && file.type.startsWith('image/')) return file.type;
  const extension = (/\.([^./]+)$/.exec(file.name) || [])[1]?.toLowerCase();
  return EXTENSION_TYPES[extension] ?? 'application/octet-stream'; // the API's refusal shows on the card
}

function addFiles(fileList) {
  const files = Array.from(fileList || []); // copied: the input is cleared right after
  if (!files.length) return;
  els.uploadsSection.hidden = false;
  const cards = document.createDocumentFragment();
  for (const file of files) {
    const card = uploadCard(file);
    cards.append(card.node);
    uploads.queue.push({ file, card });
  }
  els.uploads.prepend(cards); // the newest batch first, in the order chosen
  summariseUploads();
  pump();
}

function uploadCard(file) {
  const state = el('span', { class: 'state', 'aria-live': 'polite' }, 'Waiting…');
  const progress = el('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
  const node = el('div', { class: 'upload-card', 'data-name': file.name, 'data-state': 'uploading' },
    el('span', { class: 'name' }, file.name), progress, state);
  const set = (value, text) => { node.dataset.state = value; state.textContent = text; summariseUploads(); };
  return { node, progress, state, set };
}

/** Ends a card as rejected (by the pipeline) or failed (by the API, storage or network). */
function fail(card, message, value = 'failed') {
  card.progress.remove();
  card.node.querySelector('.reason')?.remove();
  card.node.append(el('span', { class: 'reason' }, message));
  card.set(value, value === 'rejected' ? 'Rejected' : 'Failed');
}

function summariseUploads() {
  const counts = {};
  for (const card of els.uploads.querySelectorAll('.upload-card')) counts[card.dataset.state] = (counts[card.dataset.state] ?? 0) + 1;
  const text = Object.entries(counts).map(([state, n]) => `${n} ${state}`).join(', ');
  const summary = text ? `Uploads: ${text}` : '';
  showStatus('uploads', uploads.disabled ? `${UPLOADS_OFF} ${summary}` : summary, { error: uploads.disabled });
}

/** Runs up to UPLOAD_CONCURRENCY transfers; waiting for processing does not hold a slot. */
function pump() {
  while (uploads.active < UPLOAD_CONCURRENCY && uploads.queue.length) {
    const { file, card } = uploads.queue.shift();
    uploads.active += 1;
    sendFile(file, card)
      .catch((err) => { fail(card, `Unexpected error: ${err.message}`); return null; })
      .then((id) => { if (id) watchProcessing(id, card); })
      .finally(() => { uploads.active -= 1; pump(); });
  }
}

/** Asks the API for a presigned request and sends the file; resolves to the image id, or null. */
async function sendFile(file, card) {
  if (uploads.disabled) { fail(card, UPLOADS_OFF); return null; }
  card.set('uploading', 'Starting…');
  const issued = await api('/uploads', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ filename: file.name, content_type: contentTypeOf(file), bytes: file.size }),
  });
  if (!issued.ok) {
    // 404 (or 405 where only GET exists): this deployment has uploads switched off.
    if (issued.status === 404 || issued.status === 405) {
      uploads.disabled = true;
      els.note.textContent = UPLOADS_OFF;
      fail(card, UPLOADS_OFF);
    } else {
      fail(card, issued.message);
    }
    return null;
  }
  const { id, upload } = issued.body;
  if (id == null || !upload || !isText(upload.url)) { fail(card, 'The API did not say where to send the file.'); return null; }
  card.node.dataset.id = String(id);
  card.set('uploading', 'Uploading…');
  try {
    await transfer(file, upload, issued.body.fields, card.progress);
  } catch (err) {
    fail(card, err.message);
    return null;
  }
  return String(id);
}

/** XMLHttpRequest rather than fetch: it reports upload progress. */
function transfer(file, upload, topLevelFields, progress) {
  return new Promise((resolve, reject) => {
    const fields = upload.fields ?? topLevelFields;
    const form = fields && typeof fields === 'object';
    const xhr = new XMLHttpRequest();
    xhr.open(upload.method || (form ? 'POST' : 'PUT'), upload.url);
    for (const [name, value] of Object.entries(upload.headers || {})) {
      const lower = name.toLowerCase();
      // A form's content-type carries its boundary, which only the browser knows.
      if (UNSETTABLE_HEADERS.has(lower) || (form && lower === 'content-type')) continue;
      xhr.setRequestHeader(name, String(value));
    }
    let body = file;
    if (form) {
      body = new FormData();
      for (const [name, value] of Object.entries(fields)) body.append(name, String(value));
      body.append('file', file); // a presigned POST ignores every field after the file
    }
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && e.total > 0) progress.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) { progress.value = 100; resolve(); return; }
      // Storage explains itself in XML: <Error><Code>…</Code><Message>…</Message></Error>.
      const detail = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText || '')?.[1];
      reject(new Error(`Storage refused the file (HTTP ${xhr.status}${detail ? `: ${detail}` : ''}).`));
    });
    xhr.addEventListener('error', () => reject(new Error('Network error while sending the file (is the bucket reachable from this page, with CORS for this origin?).')));
    xhr.addEventListener('abort', () => reject(new Error('The upload was cancelled.')));
    xhr.send(body);
  });
}

/** Polls the record with backoff until the pipeline has recorded a result, or time runs out. */
async function watchProcessing(id, card) {
  card.set('processing', 'processing…');
  card.progress.removeAttribute('value'); // indeterminate while the pipeline works
  const started = Date.now();
  let delay = POLL_FIRST_MS;
  while (Date.now() - started < POLL_LIMIT_MS) {
    await sleep(delay);
    delay = Math.min(delay * 2, POLL_MAX_MS);
    const result = await api(`/images/${encodeURIComponent(id)}`);
    // 404 `pending` or `not_found` means "not yet"; other errors may pass, so keep trying.
    if (!result.ok) continue;
    const record = result.body;
    if (record.status === 'processed') {
      card.progress.remove();
      const name = card.node.dataset.name;
      card.node.insertBefore(el('a', { href: detailHash(id) },
        el('img', { class: 'thumb', src: isText(smallestVariant(record)?.url) ? smallestVariant(record).url : variantPath(id, 'thumb'), alt: name, width: 200, height: 200 })), card.state);
      card.set('processed', 'Processed');
      refreshEmptyGrid();
      return;
    }
    if (record.status === 'rejected') { fail(card, reasonText(record), 'rejected'); refreshEmptyGrid(); return; }
    if (record.status === 'deleted') { fail(card, 'This upload was deleted.'); return; }
  }
  card.progress.remove();
  card.set('processing', 'Still processing — check back later');
}

/** An empty grid ("No photos yet") would go on saying so after a first upload: list again. */
function refreshEmptyGrid() {
  if (grid.shown.size > 0 || grid.loading || grid.more || grid.failed) return;
  grid.more = true; // the cursor is null, so this asks for the first page again
  loadPage();
}

// ---- Drag and drop anywhere on the page -----------------------------------------------------

let dragDepth = 0; // dragenter/dragleave fire for every child element crossed
const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes('Files');
window.addEventListener('dragenter', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth += 1;
  document.body.classList.add('dragging');
});
window.addEventListener('dragover', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault(); // without this the browser opens the dropped file instead
  event.dataTransfer.dropEffect = 'copy';
});
window.addEventListener('dragleave', (event) => {
  if (!carriesFiles(event)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) document.body.classList.remove('dragging');
});
window.addEventListener('drop', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dragging');
  addFiles(event.dataTransfer.files);
});

// ---- Start ----------------------------------------------------------------------------------

function start() {
  els.filters.addEventListener('submit', (event) => { event.preventDefault(); applyFilters(); });
  els.clear.addEventListener('click', () => { fillForm({}); applyFilters(); });
  els.loadMore.addEventListener('click', () => loadPage());
  els.signIn.addEventListener('submit', saveToken);
  els.fileInput.addEventListener('change', () => { addFiles(els.fileInput.files); els.fileInput.value = ''; });
  els.detailClose.addEventListener('click', closeDetail);
  els.detail.addEventListener('click', (event) => { if (event.target === els.detail) closeDetail(); });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !els.detail.hidden) { event.preventDefault(); closeDetail(); }
  });
  spaceOpensLinks(els.grid);
  spaceOpensLinks(els.uploads);
  window.addEventListener('hashchange', () => route(true));
  // Back/forward between filtered views: reload the grid only when the filters differ.
  window.addEventListener('popstate', () => {
    const filters = filtersFromURL();
    if (keyOf(filters) !== grid.key) { fillForm(filters); resetGrid(filters); }
  });
  // Never a blank page: anything unexpected is reported in words.
  window.addEventListener('unhandledrejection', (event) => {
    showStatus('grid', `Something went wrong: ${event.reason?.message ?? event.reason}`, { error: true });
  });

  const filters = filtersFromURL();
  fillForm(filters);
  resetGrid(filters);
  observer?.observe(els.sentinel);
  route(false);
}

start();
