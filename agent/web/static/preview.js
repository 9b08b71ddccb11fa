// The live preview: the photo placed on the phone model's print template,
// with the case outline and the camera cut-out.
//
// The placement maths are exactly those of agent/printfile (doc.go,
// "Placement maths"), so the preview shows what the machine prints; a
// browser test renders renderPrintFile() and compares it with the agent's
// print file pixel by pixel. For a W x H template and a pw x ph photo:
//
//   cover = max(W/pw, H/ph); k = scale * cover
//   centre c = (W/2 + offset.x*W, H/2 + offset.y*H)
//   T(u, v) = c + R(rotation) * (k*fx*(u - pw/2), k*fy*(v - ph/2))

export const MIN_SCALE = 0.1;
export const MAX_SCALE = 20; // printfile's limit
export const MAX_OFFSET = 2; // printfile allows 5; beyond 2 the photo is off the case

export function defaultPlacement() {
  return { scale: 1, rotation: 0, offset: { x: 0, y: 0 }, flipX: false, flipY: false };
}

// cover is the scale at which the photo just covers the template.
export const cover = (W, H, pw, ph) => Math.max(W / pw, H / ph);

// k is how many template pixels one photo pixel spans.
export const templatePixelsPerPhotoPixel = (W, H, pw, ph, p) => p.scale * cover(W, H, pw, ph);

// drawPhoto draws the photo (pw x ph as the customer sees it) onto ctx,
// whose current transform maps template pixels to the canvas.
export function drawPhoto(ctx, source, pw, ph, W, H, p) {
  const k = p.scale * cover(W, H, pw, ph);
  ctx.save();
  ctx.translate(W / 2 + p.offset.x * W, H / 2 + p.offset.y * H);
  ctx.rotate((p.rotation * Math.PI) / 180);
  ctx.scale(k * (p.flipX ? -1 : 1), k * (p.flipY ? -1 : 1));
  ctx.drawImage(source, -pw / 2, -ph / 2, pw, ph);
  ctx.restore();
}

// photoPoint is the inverse mapping of printfile's doc: a function from a
// template point to the photo point it shows. Whole right angles use exact
// sines, as printfile does.
export function photoPoint(W, H, pw, ph, p) {
  const k = p.scale * cover(W, H, pw, ph);
  const a = (p.rotation * Math.PI) / 180;
  const right = p.rotation % 90 === 0;
  const sin = right ? Math.round(Math.sin(a)) : Math.sin(a);
  const cos = right ? Math.round(Math.cos(a)) : Math.cos(a);
  const fx = p.flipX ? -1 : 1, fy = p.flipY ? -1 : 1;
  const cx = W / 2 + p.offset.x * W, cy = H / 2 + p.offset.y * H;
  return (x, y) => {
    const dx = x - cx, dy = y - cy;
    return [pw / 2 + (fx * (cos * dx + sin * dy)) / k, ph / 2 + (fy * (-sin * dx + cos * dy)) / k];
  };
}

// printableSamples are points spread over the part of the template that
// takes ink (its opaque pixels), about `cells` along the long side, the
// outermost 2 px from the edges so that a thin blank band shows too.
// A template from another origin cannot be read back (the canvas is
// tainted): then a rectangle with the rounded corners of a phone case
// stands in.
export function printableSamples(template, cells = 96) {
  const W = template.naturalWidth, H = template.naturalHeight;
  const step = Math.max(W, H) / cells;
  const axis = (n) => {
    const m = Math.max(2, Math.round((n - 4) / step) + 1);
    return Array.from({ length: m }, (_, i) => 2 + (i * (n - 4)) / (m - 1));
  };
  const xs = axis(W), ys = axis(H);
  let opaque;
  try {
    const c = Object.assign(document.createElement('canvas'), { width: W, height: H });
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(template, 0, 0);
    const px = ctx.getImageData(0, 0, W, H).data;
    opaque = (x, y) => px[4 * (Math.floor(y) * W + Math.floor(x)) + 3] > 0;
  } catch {
    const r = 0.11 * Math.min(W, H);
    opaque = (x, y) => {
      const dx = Math.max(r - x, x - (W - r), 0), dy = Math.max(r - y, y - (H - r), 0);
      return dx * dx + dy * dy <= r * r;
    };
  }
  const out = [];
  for (const y of ys) for (const x of xs) if (opaque(x, y)) out.push([x, y]);
  return out;
}

// uncovered is the share of samples (template points) that the photo,
// placed by p, does not reach: they would print blank.
export function uncovered(samples, W, H, pw, ph, p) {
  if (!samples.length) return 0;
  const at = photoPoint(W, H, pw, ph, p);
  let n = 0;
  for (const [x, y] of samples) {
    const [u, v] = at(x, y);
    if (!(u >= 0 && u < pw && v >= 0 && v < ph)) n++;
  }
  return n / samples.length;
}

function trig(rotation) {
  const a = (rotation * Math.PI) / 180;
  return [Math.abs(Math.cos(a)), Math.abs(Math.sin(a))];
}

// fillScale is the smallest scale at which the photo, turned by rotation
// and centred, covers the whole template.
export function fillScale(W, H, pw, ph, rotation) {
  const [c, s] = trig(rotation);
  const k = Math.max((W * c + H * s) / pw, (W * s + H * c) / ph);
  return k / cover(W, H, pw, ph);
}

// fitScale is the largest scale at which the whole photo, turned by
// rotation and centred, stays on the template.
export function fitScale(W, H, pw, ph, rotation) {
  const [c, s] = trig(rotation);
  const k = Math.min(W / (pw * c + ph * s), H / (pw * s + ph * c));
  return k / cover(W, H, pw, ph);
}

export function clampPlacement(p) {
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return {
    scale: clamp(p.scale, MIN_SCALE, MAX_SCALE),
    rotation: ((p.rotation % 360) + 360) % 360,
    offset: { x: clamp(p.offset.x, -MAX_OFFSET, MAX_OFFSET), y: clamp(p.offset.y, -MAX_OFFSET, MAX_OFFSET) },
    flipX: !!p.flipX,
    flipY: !!p.flipY,
  };
}

// renderPrintFile draws the print file as the agent makes it: the
// template's exact size, the photo sampled bilinearly, transparent in the
// template's cut-outs and wherever the photo does not reach.
export function renderPrintFile(photo, template, placement) {
  const W = template.naturalWidth || template.width;
  const H = template.naturalHeight || template.height;
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'low'; // bilinear, as printfile samples
  drawPhoto(ctx, photo, photo.naturalWidth || photo.width, photo.naturalHeight || photo.height, W, H, placement);
  ctx.globalCompositeOperation = 'destination-in';
  ctx.drawImage(template, 0, 0, W, H);
  return canvas;
}

// workingCopy returns a smaller copy of a large photo for drawing the
// preview fast on a slow phone; the maths keep using the full size.
export function workingCopy(photo, maxSide = 2048) {
  const pw = photo.naturalWidth, ph = photo.naturalHeight;
  const f = maxSide / Math.max(pw, ph);
  if (f >= 1) return photo;
  const c = document.createElement('canvas');
  c.width = Math.round(pw * f);
  c.height = Math.round(ph * f);
  const ctx = c.getContext('2d');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(photo, 0, 0, c.width, c.height);
  return c;
}

// Preview draws into the page's <canvas>, sized to its box and the
// screen's pixel density.
export class Preview {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.template = null; // <img> of print_img (or show_img when that fails)
    this.photo = null; // { source, pw, ph }
    this.placement = defaultPlacement();
    this.ghost = false; // show the whole photo faintly while it is being moved
    this.pending = false;
    this.layers = null;
    new ResizeObserver(() => this.layout()).observe(canvas.parentElement);
  }

  setTemplate(img) {
    this.template = img;
    this.layout();
  }

  setPhoto(photo) {
    this.photo = photo ? { source: workingCopy(photo), pw: photo.naturalWidth, ph: photo.naturalHeight } : null;
    this.draw();
  }

  setPlacement(p) {
    this.placement = p;
    this.draw();
  }

  setGhost(on) {
    this.ghost = on;
    this.draw();
  }

  // size is the template's size (W, H) and how large it shows (CSS px).
  size() {
    const W = this.template?.naturalWidth || 1, H = this.template?.naturalHeight || 2;
    return { W, H, cssW: this.cssW || 1, cssH: this.cssH || 1 };
  }

  layout() {
    if (!this.template) return;
    const stage = this.canvas.parentElement;
    if (!stage.clientWidth) return; // not shown yet: the observer calls again
    const W = this.template.naturalWidth, H = this.template.naturalHeight;
    const f = Math.min((stage.clientWidth - 24) / W, (stage.clientHeight - 16) / H);
    this.cssW = Math.max(1, Math.floor(W * f));
    this.cssH = Math.max(1, Math.floor(H * f));
    const dpr = Math.min(window.devicePixelRatio || 1, 3);
    this.canvas.style.width = `${this.cssW}px`;
    this.canvas.style.height = `${this.cssH}px`;
    this.canvas.width = Math.round(this.cssW * dpr);
    this.canvas.height = Math.round(this.cssH * dpr);
    this.layers = this.makeLayers();
    this.draw();
  }

  // makeLayers prepares, at the canvas's resolution, the case (the
  // template's shape, tinted) and a scratch canvas for the clipped photo.
  makeLayers() {
    const { width, height } = this.canvas;
    const make = () => Object.assign(document.createElement('canvas'), { width, height });
    const body = make();
    const b = body.getContext('2d');
    b.drawImage(this.template, 0, 0, width, height);
    b.globalCompositeOperation = 'source-in';
    b.fillStyle = '#dfe5ec';
    b.fillRect(0, 0, width, height);
    return { body, photo: make() };
  }

  draw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.paint();
    });
  }

  paint() {
    const { ctx, canvas, template, layers } = this;
    if (!template || !layers) return;
    const { width, height } = canvas;
    const W = template.naturalWidth, H = template.naturalHeight;
    const s = width / W;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (this.photo && this.ghost) {
      ctx.save();
      ctx.globalAlpha = 0.3;
      ctx.setTransform(s, 0, 0, height / H, 0, 0);
      drawPhoto(ctx, this.photo.source, this.photo.pw, this.photo.ph, W, H, this.placement);
      ctx.restore();
    }
    ctx.drawImage(layers.body, 0, 0);
    if (this.photo) {
      const p = layers.photo.getContext('2d');
      p.setTransform(1, 0, 0, 1, 0, 0);
      p.globalCompositeOperation = 'source-over';
      p.clearRect(0, 0, width, height);
      p.imageSmoothingQuality = 'high';
      p.setTransform(s, 0, 0, height / H, 0, 0);
      drawPhoto(p, this.photo.source, this.photo.pw, this.photo.ph, W, H, this.placement);
      p.setTransform(1, 0, 0, 1, 0, 0);
      p.globalCompositeOperation = 'destination-in';
      p.drawImage(template, 0, 0, width, height);
      ctx.drawImage(layers.photo, 0, 0);
    }
  }
}
