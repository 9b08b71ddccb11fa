// The phone model picker: brands, then that brand's models with their
// pictures (show_img) and prices.

import { $, el } from 'casefleet/view';
import { t, price, current } from 'casefleet/i18n';

let catalogue = [];
let brandId = null;
let onChoose = () => {};

// name picks the Chinese name for Chinese readers, the English one else.
export const modelName = (m) => (current() === 'zh-CN' && m.nameCn ? m.nameCn : m.name);

export function setCatalogue(brands, choose) {
  catalogue = brands.filter((b) => b.models?.length);
  onChoose = choose;
}

// findProduct returns {brand, model} for a product id, or null.
export function findProduct(productId) {
  for (const brand of catalogue) {
    const model = brand.models.find((m) => m.productId === productId);
    if (model) return { brand, model };
  }
  return null;
}

// findModelNamed returns {brand, model} for a model's English name (a
// design carried from another machine whose catalogue numbers it
// differently), or null.
export function findModelNamed(name) {
  if (!name) return null;
  const want = name.trim().toLowerCase();
  for (const brand of catalogue) {
    const model = brand.models.find((m) => (m.name || '').trim().toLowerCase() === want);
    if (model) return { brand, model };
  }
  return null;
}

export function renderPicker(selectedBrand) {
  if (selectedBrand) brandId = selectedBrand;
  if (!catalogue.some((b) => b.id === brandId)) brandId = catalogue[0]?.id ?? null;

  const brands = $('brands');
  // The chips are made anew: a chip just chosen (with the keyboard, say)
  // keeps the focus in its new self instead of dropping it to the page.
  const hadFocus = brands.contains(document.activeElement);
  brands.replaceChildren($('brands-label'));
  for (const b of catalogue) {
    brands.append(el('button', {
      type: 'button', class: 'chip', 'aria-pressed': String(b.id === brandId),
      onclick: () => renderPicker(b.id),
    }, current() === 'zh-CN' && b.nameCn ? b.nameCn : b.name));
  }
  if (hadFocus) brands.querySelector('[aria-pressed="true"]')?.focus();

  const list = $('models');
  list.replaceChildren();
  const brand = catalogue.find((b) => b.id === brandId);
  if (!brand) {
    list.append(el('li', { class: 'help' }, t('pick.none')));
    return;
  }
  for (const m of brand.models) {
    const out = m.stock !== undefined && m.stock !== '' && Number(m.stock) <= 0;
    const img = el('img', { src: m.showImg, alt: '', loading: 'lazy', decoding: 'async', width: 60, height: 120 });
    img.addEventListener('error', () => img.classList.add('broken'), { once: true });
    const cost = price(m.price);
    list.append(el('li', {}, el('button', {
      type: 'button', class: 'model', disabled: out, 'data-product': m.productId,
      onclick: () => onChoose(brand, m),
    }, img, el('span', { class: 'model-name' }, modelName(m)),
    el('span', { class: 'model-price' }, out ? t('pick.outOfStock') : cost ? t('pick.price', { price: cost }) : ''))));
  }
}
