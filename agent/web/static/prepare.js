// Preparing the photo for the upload: the phone sends only what the print
// needs, not the whole photo. A 12-MP, 3 MB photo takes half a minute to
// go up on a slow mobile link; the print file is one template (about
// 1.5 MP), and at the usual placements only part of the photo lands on it.
//
// So the phone cuts out the part of the (upright) photo that lands on the
// template, plus a small bleed, scales it down to about one pixel per
// template pixel (never up), encodes it, and sends with it the placement
// that means the same for the cut-out (cropPlacement, the maths of
// printfile.CropPlacement): the agent renders the same print file. Should
// anything fail, the photo goes up as chosen, as it always did.

import { cover, photoPoint } from 'casefleet/preview';

// Settings, chosen by measuring a 12-MP photo through the real page (see
// prepare_browser_test.go): at one uploaded pixel per template pixel the
// print file differs from the one made from the whole photo by no more
// than a second JPEG pass does, and more pixels only cost bytes.
export const DENSITY = 1; // uploaded pixels per template pixel, at most
export const BLEED = 2; // template pixels around the template's edge
export const QUALITY = 0.92; // JPEG; PNG photos go as PNG

// cropFor is the part of a pw x ph photo to send for placement p on a
// W x H template: {x, y, f, w, h}, the rectangle at (x, y) of the photo
// scaled by f into w x h pixels (as printfile.Crop); null when no part of
// the photo lands on the template.
export function cropFor(W, H, pw, ph, p, { density = DENSITY, bleed = BLEED } = {}) {
  const k = p.scale * cover(W, H, pw, ph);
  const inv = photoPoint(W, H, pw, ph, p);
  const corners = [[-bleed, -bleed], [W + bleed, -bleed], [-bleed, H + bleed], [W + bleed, H + bleed]].map(([x, y]) => inv(x, y));
  const us = corners.map((c) => c[0]), vs = corners.map((c) => c[1]);
  // Each side of the photo: the run [a, b] the case needs, and whether
  // the photo's own edges show on the case (then they must print exactly
  // where they did).
  const side = (lo, hi, n) => ({ a: Math.max(0, lo), b: Math.min(n, hi), n, lo: lo <= 0, hi: hi >= n });
  const U = side(Math.min(...us), Math.max(...us), pw), V = side(Math.min(...vs), Math.max(...vs), ph);
  if (!(U.b > U.a && V.b > V.a)) return null;
  let f = Math.min(1, density * k);
  // A side shown whole keeps both edges only if it scales to whole
  // pixels: nudge f (by less than a pixel over the side) so that it does.
  for (const S of [U, V]) {
    if (S.lo && S.hi && f < 1) {
      f = Math.max(1, Math.round(S.n * f)) / S.n;
      break; // both sides shown whole: one of them may be a pixel short
    }
  }
  // At right angles the uploaded pixels can sit exactly on the template's
  // (the agent then samples them where they are, adding no blur): a run
  // with no photo edge on the case starts on the grid through the
  // template's corner. Otherwise on the photo's own pixel grid
  // (unscaled: exact copies).
  const [gu, gv] = p.rotation % 90 === 0 && f < 1 ? inv(0, 0) : [0, 0];
  const [x, w] = span(U, gu, f);
  const [y, h] = span(V, gv, f);
  return { x, y, f, w, h };
}

// span is the start s and the length m (in uploaded pixels, of 1/f photo
// pixels each) of a run covering [S.a, S.b] of a photo side S.n long,
// inside [0, S.n]: from a photo edge that shows on the case, else on the
// grid through g. Where that cannot be, it gives up less than one
// uploaded pixel of the bleed (or, for a photo shown whole both ways, of
// the far edge of one side).
function span(S, g, f) {
  const { a, b, n } = S;
  const step = 1 / f, eps = 1e-7;
  const fit = (s, m) => (s + m * step > n + eps ? Math.floor((n - s) * f + eps) : m);
  let s, m;
  if (S.lo) {
    s = 0;
    m = fit(0, Math.ceil(b * f - eps));
  } else if (S.hi) {
    m = Math.ceil((n - a) * f - eps);
    if (n - m * step < -eps) m = Math.floor(n * f + eps);
    s = Math.max(0, n - m * step);
  } else {
    s = g + Math.floor((a - g) * f + eps) * step;
    if (s < 0) s = g + Math.ceil((a - g) * f - eps) * step;
    s = Math.max(0, s);
    m = fit(s, Math.ceil((b - s) * f - eps));
  }
  if (m < 1) {
    m = 1;
    s = Math.max(0, Math.min(s, n - step));
  }
  return [s, m];
}

// cropPlacement is the placement that means for the prepared photo what p
// means for the whole pw x ph one: printfile.CropPlacement.
export function cropPlacement(p, W, H, pw, ph, c) {
  const k = p.scale * cover(W, H, pw, ph);
  let dx = c.x + c.w / (2 * c.f) - pw / 2, dy = c.y + c.h / (2 * c.f) - ph / 2;
  if (p.flipX) dx = -dx;
  if (p.flipY) dy = -dy;
  const a = (p.rotation * Math.PI) / 180;
  const right = p.rotation % 90 === 0;
  const sin = right ? Math.round(Math.sin(a)) : Math.sin(a);
  const cos = right ? Math.round(Math.cos(a)) : Math.cos(a);
  const cx = W / 2 + p.offset.x * W + k * (cos * dx - sin * dy);
  const cy = H / 2 + p.offset.y * H + k * (sin * dx + cos * dy);
  return {
    ...p,
    scale: k / c.f / cover(W, H, c.w, c.h),
    offset: { x: (cx - W / 2) / W, y: (cy - H / 2) / H },
  };
}

// prepare is the upload for a design: {blob, name, placement}, and what
// was done (crop, ms) for the curious. photo is the decoded <img> (EXIF
// orientation applied, as the preview shows it), blob its file, template
// the print template (its natural size is the print file's).
export async function prepare({ photo, blob, name, template, placement }, opt = {}) {
  const started = performance.now();
  const original = { blob, name, placement };
  const W = template.naturalWidth, H = template.naturalHeight;
  const pw = photo.naturalWidth, ph = photo.naturalHeight;
  const c = cropFor(W, H, pw, ph, placement, opt);
  const done = (r) => ({ ...r, crop: c, ms: performance.now() - started });

  // Formats the agent does not read (a GIF, say) go as chosen, for the
  // agent to refuse as it always has.
  if (!sendable(blob)) return done(original);
  if (!c) {
    // Nothing of the photo lands on the case, so the print is blank: a
    // transparent pixel prints the same.
    const out = await encode(canvasOf(1, 1), 'image/png');
    return done(out ? { blob: out, name: 'photo.png', placement } : original);
  }
  const pixels = c.w * c.h;
  if (c.f === 1 && pixels > 0.8 * pw * ph) return done(original); // little to gain

  const canvas = canvasOf(c.w, c.h);
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = opt.smoothing || 'low'; // bilinear, as the agent samples
  ctx.drawImage(photo, c.x, c.y, c.w / c.f, c.h / c.f, 0, 0, c.w, c.h);

  const alpha = mayHaveAlpha(blob) && hasTransparency(ctx, c.w, c.h);
  const quality = opt.quality ?? QUALITY;
  // A lossless photo stays lossless: PNG (a PNG is mostly a drawing or
  // a screenshot, whose hard edges JPEG would fringe), and so must one
  // with transparency (JPEG would print it black). Not lossy WebP, though
  // it is smaller: the agent's WebP decoder (golang.org/x/image/webp)
  // reads its colours as full range, which prints washed out
  // (golang/go#40173).
  const lossless = alpha || blob.type === 'image/png';
  const out = lossless ? await encode(canvas, 'image/png') : await encode(canvas, opt.type || 'image/jpeg', quality);
  if (!out || out.size >= blob.size) return done(original);
  const ext = { 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/png': 'png' }[out.type];
  return done({ blob: out, name: `photo.${ext}`, placement: cropPlacement(placement, W, H, pw, ph, c) });
}

function canvasOf(w, h) {
  return Object.assign(document.createElement('canvas'), { width: w, height: h });
}

// encode is the canvas as a file of type, or null when the browser
// cannot make one (toBlob falls back to PNG for types it cannot write).
function encode(canvas, type, quality) {
  return new Promise((resolve) => {
    try {
      canvas.toBlob((b) => resolve(b && b.type === type ? b : null), type, quality);
    } catch {
      resolve(null); // a tainted or oversized canvas
    }
  });
}

// sendable: the agent reads JPEG, PNG and WebP (a browser may show other
// formats, such as GIF).
const sendable = (blob) => /^image\/(jpeg|png|webp)$/.test(blob.type);

const mayHaveAlpha = (blob) => blob.type !== 'image/jpeg';

function hasTransparency(ctx, w, h) {
  const px = ctx.getImageData(0, 0, w, h).data;
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 255) return true;
  return false;
}
