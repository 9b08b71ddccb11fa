// Touch, mouse and keyboard on the preview: one finger drags, two fingers
// pinch to zoom and twist to rotate (about the point between them), the
// wheel zooms; arrow keys move, + and - zoom, R turns by 90 degrees.
//
// Positions are worked out in template pixels, the units of the placement
// maths (see preview.js): the photo point under the fingers stays under
// them.

const SNAP_DEGREES = 4; // a twist ending this close to a right angle snaps to it

// attachGestures wires el. view: {size(): {W, H, cssW, cssH}, get(): placement,
// set(placement), moving(bool)}.
export function attachGestures(el, view) {
  const pointers = new Map(); // pointerId -> {x, y} in CSS px
  let start = null; // the gesture so far: placement and pointers when it (re)started

  const toTemplate = (pt) => {
    const r = el.getBoundingClientRect();
    const { W, H } = view.size();
    return { x: ((pt.x - r.left) / r.width) * W, y: ((pt.y - r.top) / r.height) * H };
  };

  function begin() {
    const pts = [...pointers.values()].map(toTemplate);
    start = pts.length ? { placement: view.get(), pts } : null;
  }

  function move() {
    if (!start) return;
    const pts = [...pointers.values()].map(toTemplate);
    if (pts.length !== start.pts.length) return;
    const { W, H } = view.size();
    const p0 = start.placement;
    const c0 = { x: W / 2 + p0.offset.x * W, y: H / 2 + p0.offset.y * H };
    let scale = 1, turn = 0, from = start.pts[0], to = pts[0];
    if (pts.length >= 2) {
      const [a0, b0] = start.pts, [a1, b1] = pts;
      const d0 = Math.hypot(b0.x - a0.x, b0.y - a0.y), d1 = Math.hypot(b1.x - a1.x, b1.y - a1.y);
      if (d0 > 1) scale = d1 / d0;
      turn = Math.atan2(b1.y - a1.y, b1.x - a1.x) - Math.atan2(b0.y - a0.y, b0.x - a0.x);
      from = { x: (a0.x + b0.x) / 2, y: (a0.y + b0.y) / 2 };
      to = { x: (a1.x + b1.x) / 2, y: (a1.y + b1.y) / 2 };
    }
    view.set(transformed(p0, c0, from, to, scale, turn, W, H));
  }

  // transformed turns and scales the placement about `from`, then moves
  // `from` to `to`: the photo's centre c goes to to + R(turn)·s·(c − from).
  function transformed(p0, c0, from, to, s, turn, W, H) {
    const scale = Math.min(20, Math.max(0.1, p0.scale * s));
    const s2 = scale / p0.scale;
    const cos = Math.cos(turn), sin = Math.sin(turn);
    const vx = (c0.x - from.x) * s2, vy = (c0.y - from.y) * s2;
    const c = { x: to.x + cos * vx - sin * vy, y: to.y + sin * vx + cos * vy };
    return {
      ...p0,
      scale,
      rotation: p0.rotation + (turn * 180) / Math.PI,
      offset: { x: (c.x - W / 2) / W, y: (c.y - H / 2) / H },
    };
  }

  function end() {
    const p = view.get();
    const r = ((p.rotation % 360) + 360) % 360;
    const nearest = Math.round(r / 90) * 90;
    if (Math.abs(r - nearest) < SNAP_DEGREES) view.set({ ...p, rotation: nearest % 360 });
    view.moving(false);
  }

  el.addEventListener('pointerdown', (e) => {
    if (pointers.size >= 2) return;
    el.setPointerCapture?.(e.pointerId);
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    view.moving(true);
    begin();
    e.preventDefault();
  });
  el.addEventListener('pointermove', (e) => {
    if (!pointers.has(e.pointerId)) return;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    move();
  });
  const lift = (e) => {
    if (!pointers.delete(e.pointerId)) return;
    begin(); // the remaining finger carries on from here
    if (pointers.size === 0) end();
  };
  el.addEventListener('pointerup', lift);
  el.addEventListener('pointercancel', lift);

  el.addEventListener('wheel', (e) => {
    e.preventDefault();
    const { W, H } = view.size();
    const p0 = view.get();
    const at = toTemplate({ x: e.clientX, y: e.clientY });
    const c0 = { x: W / 2 + p0.offset.x * W, y: H / 2 + p0.offset.y * H };
    view.set(transformed(p0, c0, at, at, Math.exp(-e.deltaY * 0.002), 0, W, H));
  }, { passive: false });

  el.addEventListener('keydown', (e) => {
    const p = view.get();
    const step = e.shiftKey ? 0.05 : 0.01;
    const moveBy = (dx, dy) => view.set({ ...p, offset: { x: p.offset.x + dx, y: p.offset.y + dy } });
    const zoom = (f) => view.set({ ...p, scale: Math.min(20, Math.max(0.1, p.scale * f)) });
    switch (e.key) {
      case 'ArrowLeft': moveBy(-step, 0); break;
      case 'ArrowRight': moveBy(step, 0); break;
      case 'ArrowUp': moveBy(0, -step); break;
      case 'ArrowDown': moveBy(0, step); break;
      case '+': case '=': zoom(1.05); break;
      case '-': case '_': zoom(1 / 1.05); break;
      case 'r': case 'R': view.set({ ...p, rotation: p.rotation + 90 }); break;
      case '[': view.set({ ...p, rotation: p.rotation - 5 }); break;
      case ']': view.set({ ...p, rotation: p.rotation + 5 }); break;
      default: return;
    }
    e.preventDefault();
  });
}
