// Package sticker makes the QR code stickers that kiosks carry: one
// machine's sticker (a label for a 62 mm roll) and fleet sheets of many on
// A4 pages, as PDF, SVG or PNG. Under each code stand the machine's name,
// its code and location, and the link the code opens, so that staff can
// tell the stickers apart and a customer whose camera fails can type it.
//
// Pages are drawn once, in points, and written by three small back ends:
// a PDF writer of its own (vector QR modules, the standard Helvetica
// fonts, nothing embedded), SVG, and PNG with the Go fonts.
package sticker

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"casefleet/shared/machine"
	"casefleet/shared/qr"
)

// MaxName bounds a machine's name on a sticker.
const MaxName = 80

// Sticker is one machine's sticker: the code's link and what is printed
// under it.
type Sticker struct {
	Machine  string
	Location string // may be empty
	Name     string // may be empty
	Link     string // what the QR code opens: the editor link on the relay
	code     *qr.Code
}

// New makes the sticker of machine at location (optional), named name
// (optional), whose code opens the editor on the relay's publicURL.
func New(publicURL, machineCode, location, name string) (Sticker, error) {
	if err := machine.ValidateCode(machineCode); err != nil {
		return Sticker{}, err
	}
	if err := checkText("location", location, qr.MaxLocation); err != nil {
		return Sticker{}, err
	}
	if err := checkText("name", name, MaxName); err != nil {
		return Sticker{}, err
	}
	link, err := qr.EditorURL(publicURL, machineCode, location)
	if err != nil {
		return Sticker{}, err
	}
	code, err := qr.Encode(link)
	if err != nil {
		return Sticker{}, err
	}
	return Sticker{Machine: machineCode, Location: location, Name: name, Link: link, code: code}, nil
}

// Code is the sticker's QR code.
func (s Sticker) Code() *qr.Code { return s.code }

// checkText accepts printable UTF-8 text of at most max bytes: no control
// or formatting characters (line breaks, bidi overrides), which would
// garble or disguise what is printed.
func checkText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes long, at most %d", what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8 text", what)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s %.40q has a control or invisible character (%U)", what, s, r)
		}
	}
	return nil
}

// errNoStickers: a sheet needs at least one machine.
var errNoStickers = errors.New("no machines to print")

// shortLink is the link as printed: without the scheme, which phones add
// by themselves.
func shortLink(link string) string {
	for _, scheme := range []string{"https://", "http://"} {
		if rest, ok := strings.CutPrefix(link, scheme); ok {
			return rest
		}
	}
	return link
}

// PDFShowsText reports whether the PDF's standard fonts can show every
// character of the sticker's name and location; those they cannot print
// as '?' (SVG and PNG show them).
func (s Sticker) PDFShowsText() bool {
	_, nameOK := encodeWinAnsi(s.Name)
	_, locOK := encodeWinAnsi(s.Location)
	return nameOK && locOK
}
