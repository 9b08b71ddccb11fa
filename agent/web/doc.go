// Package web is the customer web app: the page a phone opens from a
// kiosk's QR code (GET /editor?machine=CODE[&location=L]) to pick a phone
// model, place a photo on the case, order, and follow the order until the
// case is collected.
//
// It is plain HTML, CSS and JavaScript modules embedded in the agent
// binary: no build step, no framework. The page talks only to the
// customer API of agent/api (and, through the relay, GET /api/machines for
// other machines nearby); the placement maths of its preview are those of
// agent/printfile, so what the customer sees is what the machine prints.
//
// Every URL the page requests carries ?machine=CODE, so that the relay can
// route each one to the kiosk's agent: the modules import each other by
// bare names that the page's import map resolves to such URLs (with a
// content hash, so they can be cached for good).
//
// The language is the customer's: ?lang=, else the "lang" cookie the
// page's language switch sets, else Accept-Language; English, Spanish,
// French, German, Simplified Chinese and Arabic (right to left).
package web
