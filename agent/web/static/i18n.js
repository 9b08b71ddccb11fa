// Strings and number/time formatting in the customer's language. The
// page starts with its strings inline (no extra request); the switch
// fetches another language's file and redraws.

let lang = 'en';
let dict = {};
let locales = {};
let fmt = null;
let currency = ''; // ISO 4217 code of the machine's prices, '' when not set
const listeners = new Set();

const RTL = new Set(['ar']);

export function init(boot) {
  lang = boot.lang;
  dict = boot.strings;
  locales = boot.locales;
  setup();
  apply(document);
}

export const current = () => lang;
export const isRTL = () => RTL.has(lang);

function setup() {
  fmt = {
    num: new Intl.NumberFormat(lang),
    two: new Intl.NumberFormat(lang, { minimumIntegerDigits: 2 }),
    price: priceFormat(),
    minutes: new Intl.NumberFormat(lang, { style: 'unit', unit: 'minute', unitDisplay: 'long' }),
    clock: new Intl.DateTimeFormat(lang, { hour: 'numeric', minute: '2-digit' }),
    plural: new Intl.PluralRules(lang),
  };
  const html = document.documentElement;
  html.lang = lang;
  html.dir = isRTL() ? 'rtl' : 'ltr';
}

// t returns the string for key with {name} placeholders filled in.
export function t(key, params = {}) {
  let s = dict[key];
  if (s === undefined) {
    console.warn('casefleet: no string', key, 'in', lang);
    s = key;
  }
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

// tn picks the plural form of key for n (key.one, key.few, … key.other)
// and fills {n} with n formatted for the language.
export function tn(key, n, params = {}) {
  const form = `${key}.${fmt.plural.select(n)}`;
  return t(form in dict ? form : `${key}.other`, { n: fmt.num.format(n), ...params });
}

export const num = (n) => fmt.num.format(n);
export const clock = (date) => fmt.clock.format(date);
export const minutes = (n) => fmt.minutes.format(n);

// countdown formats seconds as m:ss (or h:mm:ss) with the language's digits.
export function countdown(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const tail = `${fmt.two.format(m)}:${fmt.two.format(r)}`;
  return h > 0 ? `${fmt.num.format(h)}:${tail}` : `${fmt.num.format(m)}:${fmt.two.format(r)}`;
}

function priceFormat() {
  if (currency) {
    try {
      return new Intl.NumberFormat(lang, { style: 'currency', currency });
    } catch {
      // a code this browser does not know: the bare number
    }
  }
  return new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// setCurrency sets the machine's currency (ISO 4217) for every price;
// it reports whether that changed anything.
export function setCurrency(code) {
  code = code || '';
  if (code === currency) return false;
  currency = code;
  fmt.price = priceFormat();
  return true;
}

// price formats a catalogue price ("49.00") in the machine's currency, as
// the customer's language writes it ("49,00 €", "€49.00", "49,00 €").
export function price(text) {
  const n = Number(text);
  return Number.isFinite(n) && text !== '' ? fmt.price.format(n) : '';
}

// apply fills every [data-i18n] element's text and every
// [data-i18n-attr="attr:key;attr:key"] element's attributes under root.
export function apply(root) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of node.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) node.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

// setLanguage switches the page to code, remembers the choice in a cookie
// (the server then serves that language first) and tells the views.
export async function setLanguage(code) {
  const url = locales[code];
  if (!url || code === lang) return;
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`strings for ${code}: ${resp.status}`);
  dict = await resp.json();
  lang = code;
  setup();
  apply(document);
  document.cookie = `lang=${encodeURIComponent(code)}; path=/; max-age=31536000; SameSite=Lax`;
  for (const fn of listeners) fn(code);
}

export function onChange(fn) {
  listeners.add(fn);
}
