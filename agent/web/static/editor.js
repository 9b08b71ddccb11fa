// The design view: the chosen phone model's case with the customer's
// photo on it, moved by touch, mouse, keyboard or the tool buttons.

import { $ } from 'casefleet/view';
import { t, num, price } from 'casefleet/i18n';
import { modelName } from 'casefleet/picker';
import {
  Preview, defaultPlacement, clampPlacement, fillScale, fitScale, templatePixelsPerPhotoPixel,
  printableSamples, uncovered,
} from 'casefleet/preview';
import { attachGestures } from 'casefleet/gestures';
import { prepare } from 'casefleet/prepare';

// A photo stretched over more template pixels than this per photo pixel
// prints visibly soft (the template is 300 dpi: this is under 150 dpi).
const SOFT_PRINT = 2;

const state = {
  brand: null,
  model: null,
  template: null, // print_img as an <img>
  exactTemplate: false, // false when print_img failed and a stand-in is shown
  printable: [], // sample points of the template's printable area (coverage warning)
  photo: null, // the photo as an <img>
  photoBlob: null, // the photo as chosen, uploaded as is
  photoName: '',
  placement: defaultPlacement(),
};

let preview = null;
let hooks = null;
let limits = {};
let templateLoad = 0;
// templateReady settles when the chosen model's template has loaded (or
// failed to): the upload is prepared for its exact size.
let templateReady = Promise.resolve();

// snapshot is the design as it stands (the order button sends it; the
// preview-versus-print-file test reads it).
export const snapshot = () => ({ ...state, placement: { ...state.placement, offset: { ...state.placement.offset } } });

// initEditor wires the view once. hooks: onOrder(snapshot), onChangeModel(),
// onChange(design), onPhotoError(kind).
export function initEditor(h, boot) {
  hooks = h;
  limits = { bytes: boot.maxUploadBytes || 0, pixels: boot.maxPixels || 0 };
  preview = new Preview($('preview'));
  attachGestures($('preview'), {
    size: () => preview.size(),
    get: () => state.placement,
    set: (p) => place(p),
    moving: (on) => preview.setGhost(on && !!state.photo),
  });
  for (const id of ['photo-input', 'camera-input', 'replace-input']) {
    $(id).addEventListener('change', (e) => {
      const file = e.target.files?.[0];
      e.target.value = '';
      if (file) choosePhoto(file);
    });
  }
  $('tools').addEventListener('click', (e) => {
    const act = e.target.closest('button')?.dataset.act;
    if (act) tool(act);
  });
  $('cover-fill').addEventListener('click', () => tool('fill'));
  $('change-model').addEventListener('click', () => hooks.onChangeModel());
  $('order-btn').addEventListener('click', () => {
    if (state.photo && state.model) hooks.onOrder(snapshot());
  });
  render();
}

// openDesign shows the view for a phone model, with a placement and photo
// to restore (after a reload or a failed order) when given.
export async function openDesign(brand, model, { placement, photoBlob, photoName } = {}) {
  const modelChanged = state.model?.productId !== model.productId;
  state.brand = brand;
  state.model = model;
  if (placement) state.placement = clampPlacement(placement);
  render();
  if (modelChanged || !state.template) {
    templateReady = loadTemplate(model);
    await templateReady;
  }
  if (photoBlob && photoBlob !== state.photoBlob) await usePhoto(photoBlob, photoName, { fresh: false });
  render();
}

// loadTemplate loads print_img (falling back to show_img, then to a plain
// outline, so a missing picture never blocks the design).
async function loadTemplate(model) {
  const load = ++templateLoad;
  for (const [src, exact] of [[model.printImg, true], [model.showImg, false], [plainOutline(), false]]) {
    if (!src) continue;
    const img = new Image();
    img.src = src;
    try {
      await img.decode();
    } catch {
      continue;
    }
    if (load !== templateLoad) return; // another model was chosen meanwhile
    state.template = img;
    state.exactTemplate = exact;
    state.printable = printableSamples(img);
    preview.setTemplate(img);
    render();
    return;
  }
}

function plainOutline() {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="1240"><rect width="600" height="1240" rx="80" fill="#fff"/></svg>';
  return 'data:image/svg+xml,' + encodeURIComponent(svg);
}

// choosePhoto takes a photo the customer just picked. The page keeps its
// own copy of the bytes: a picked file is only a reference, which breaks
// if the file goes away before the upload (or before a later visit).
async function choosePhoto(file) {
  let copy;
  try {
    copy = new Blob([await file.arrayBuffer()], { type: file.type });
  } catch {
    return hooks.onPhotoError('not_image');
  }
  copy.name = file.name; // for the upload's file name
  await usePhoto(copy, file.name, { fresh: true });
}

// usePhoto loads a chosen photo. A fresh one starts filling the case.
async function usePhoto(blob, name, { fresh }) {
  if (limits.bytes && blob.size > limits.bytes) return hooks.onPhotoError('too_large');
  const img = new Image();
  const url = URL.createObjectURL(blob);
  img.src = url;
  try {
    await img.decode();
  } catch {
    URL.revokeObjectURL(url);
    return hooks.onPhotoError('not_image');
  }
  if (limits.pixels && img.naturalWidth * img.naturalHeight > limits.pixels) {
    URL.revokeObjectURL(url);
    return hooks.onPhotoError('too_large');
  }
  if (state.photo) URL.revokeObjectURL(state.photo.src);
  state.photo = img;
  state.photoBlob = blob;
  state.photoName = name || 'photo';
  if (fresh) state.placement = defaultPlacement();
  preview.setPhoto(img);
  preview.setPlacement(state.placement);
  render();
  hooks.onChange(design(), { photo: fresh ? blob : null });
}

// prepareUpload is what goes up for an order made of snap: the photo and
// the placement that means the same on the agent. Only what the print
// needs (see prepare.js); the photo as chosen when the print size is not
// known (a stand-in template) or preparing fails.
export async function prepareUpload(snap) {
  const original = { blob: snap.photoBlob, name: snap.photoName, placement: snap.placement };
  // A tap on Order may come before the model's template has loaded (a
  // slow network): wait for it rather than send the whole photo.
  await templateReady;
  const template = state.model?.productId === snap.model?.productId && state.exactTemplate ? state.template : null;
  if (!snap.photo || !template) return original;
  try {
    lastPrepared = await prepare({
      photo: snap.photo, blob: snap.photoBlob, name: snap.photoName, template, placement: snap.placement,
    });
    return { blob: lastPrepared.blob, name: lastPrepared.name, placement: lastPrepared.placement };
  } catch {
    return original;
  }
}

// lastPrepared is the last upload prepareUpload made, with its crop and
// how long it took (the photo-preparation tests report it).
let lastPrepared = null;
export const lastPreparation = () => lastPrepared && { ...lastPrepared, blob: null, size: lastPrepared.blob.size, type: lastPrepared.blob.type };

export function forgetPhoto() {
  if (state.photo) URL.revokeObjectURL(state.photo.src);
  state.photo = state.photoBlob = null;
  state.placement = defaultPlacement();
  preview?.setPhoto(null);
  render();
}

export const design = () => ({
  productId: state.model?.productId, brandId: state.brand?.id, placement: state.placement,
});

function place(p) {
  state.placement = clampPlacement(p);
  preview.setPlacement(state.placement);
  render();
  hooks.onChange(design(), {});
}

function tool(act) {
  const p = state.placement;
  const dims = photoDims();
  switch (act) {
    case 'rotate': return place({ ...p, rotation: p.rotation + 90 });
    case 'flip': return place({ ...p, flipX: !p.flipX });
    case 'fit': return dims && place({ ...p, scale: fitScale(...dims, p.rotation), offset: { x: 0, y: 0 } });
    case 'fill': return dims && place({ ...p, scale: fillScale(...dims, p.rotation), offset: { x: 0, y: 0 } });
    case 'center': return place({ ...p, offset: { x: 0, y: 0 } });
    case 'zoomIn': return place({ ...p, scale: p.scale * 1.1 });
    case 'zoomOut': return place({ ...p, scale: p.scale / 1.1 });
  }
}

// photoDims is [W, H, pw, ph] once template and photo are loaded.
function photoDims() {
  if (!state.template || !state.photo) return null;
  return [state.template.naturalWidth, state.template.naturalHeight, state.photo.naturalWidth, state.photo.naturalHeight];
}

export function setOffline(offline) {
  $('offline-note').hidden = !offline;
  $('offline-note').textContent = offline ? t('design.offline') : '';
  render();
}

let busy = null;

// setUploading shows the upload's progress (0..1), or ends it with null.
export function setUploading(progress) {
  busy = progress;
  render();
}

// render brings the view's text and controls in line with the state.
export function render() {
  const has = !!state.photo;
  $('empty').hidden = has;
  $('preview').classList.toggle('has-photo', has);
  $('design-title').textContent = state.model ? t('design.titleFor', { model: modelName(state.model) }) : t('design.title');
  const cost = state.model ? price(state.model.price) : '';
  $('price').textContent = cost ? t('design.price', { price: cost }) : '';
  for (const b of $('tools').querySelectorAll('button')) b.disabled = !has;
  $('order-btn').disabled = !has || busy !== null;
  $('order-btn').textContent = busy !== null ? t('design.sending') : t('design.order');
  $('upload').hidden = busy === null;
  if (busy !== null) {
    $('upload-progress').value = Math.round(busy * 100);
    $('upload-text').textContent = t('design.uploading', { percent: num(Math.round(busy * 100)) });
  }
  $('touch-help').textContent = t(has ? 'design.help' : 'design.helpEmpty');
  const p = state.placement;
  $('preview').setAttribute('aria-label', has
    ? t('design.previewLabel', { zoom: num(Math.round(p.scale * 100)), angle: num(Math.round(p.rotation)) })
    : t('design.previewEmpty'));
  const dims = photoDims();
  const soft = dims && state.exactTemplate && templatePixelsPerPhotoPixel(...dims, p) > SOFT_PRINT;
  $('small-note').hidden = !soft;
  $('small-note').textContent = soft ? t('design.tooSmall') : '';
  // Any bare sample: the samples reach to 2 px from the case's edges, so
  // a blank band that thin shows. Cheap enough for every gesture frame
  // (a few thousand points mapped).
  const bare = dims && uncovered(state.printable, ...dims, p) > 0;
  $('cover-note').hidden = !bare;
  $('cover-text').textContent = bare ? t('design.uncovered') : '';
}
