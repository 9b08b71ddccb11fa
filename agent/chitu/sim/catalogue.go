package sim

import (
	"image"
	"math"
	"strconv"

	"casefleet/agent/chitu/protocol"
)

// PixelsPerMM is the print resolution: 300 dpi.
const PixelsPerMM = 11.81

// roundedRect is a rounded rectangle measured from the top-left corner:
// in millimetres in the catalogue, in pixels when drawing.
type roundedRect struct {
	x, y, w, h, radius float64
}

// phoneModel is one printable phone model: its catalogue entry and the
// shape of its case, from which the print template is drawn.
type phoneModel struct {
	productID      string
	nameCN, nameEN string
	price          string
	stock          int
	widthMM        float64
	heightMM       float64
	cornerMM       float64
	camera         roundedRect // the camera hole, which must stay unprinted
}

// printSize is the pixel size of the model's print template and print file.
func (p phoneModel) printSize() image.Point {
	return image.Pt(mmToPx(p.widthMM), mmToPx(p.heightMM))
}

func mmToPx(mm float64) int { return int(math.Round(mm * PixelsPerMM)) }

type brand struct {
	id             string
	nameCN, nameEN string
	models         []phoneModel
}

// catalogue is what every simulated machine prints (type diy). Sizes are
// the real phones' outlines; camera holes sit near the top-left corner.
var catalogue = []brand{
	{id: "1", nameCN: "苹果", nameEN: "Apple", models: []phoneModel{
		{productID: "101", nameCN: "iPhone 15", nameEN: "iPhone 15", price: "49.00", stock: 20,
			widthMM: 71.5, heightMM: 147.5, cornerMM: 9, camera: roundedRect{5, 5, 28, 28, 7}},
		{productID: "102", nameCN: "iPhone 15 Pro Max", nameEN: "iPhone 15 Pro Max", price: "59.00", stock: 12,
			widthMM: 76.7, heightMM: 159.9, cornerMM: 10, camera: roundedRect{5, 5, 36, 36, 9}},
		{productID: "103", nameCN: "iPhone 13 mini", nameEN: "iPhone 13 mini", price: "39.00", stock: 8,
			widthMM: 64.2, heightMM: 131.5, cornerMM: 8, camera: roundedRect{4, 4, 26, 26, 6}},
	}},
	{id: "2", nameCN: "三星", nameEN: "Samsung", models: []phoneModel{
		{productID: "201", nameCN: "Galaxy S24", nameEN: "Galaxy S24", price: "49.00", stock: 15,
			widthMM: 70.6, heightMM: 147.0, cornerMM: 8, camera: roundedRect{6, 6, 13, 40, 6}},
		{productID: "202", nameCN: "Galaxy A54", nameEN: "Galaxy A54", price: "45.00", stock: 10,
			widthMM: 76.7, heightMM: 158.2, cornerMM: 8, camera: roundedRect{6, 6, 14, 44, 7}},
	}},
	{id: "3", nameCN: "小米", nameEN: "Xiaomi", models: []phoneModel{
		{productID: "301", nameCN: "小米 14", nameEN: "Xiaomi 14", price: "45.00", stock: 18,
			widthMM: 71.5, heightMM: 152.8, cornerMM: 9, camera: roundedRect{5, 5, 30, 30, 8}},
		{productID: "302", nameCN: "红米 Note 13", nameEN: "Redmi Note 13", price: "39.00", stock: 25,
			widthMM: 75.6, heightMM: 161.1, cornerMM: 9, camera: roundedRect{5, 5, 28, 36, 7}},
	}},
	{id: "4", nameCN: "华为", nameEN: "Huawei", models: []phoneModel{
		{productID: "401", nameCN: "Mate 60", nameEN: "Mate 60", price: "55.00", stock: 9,
			widthMM: 76.0, heightMM: 161.4, cornerMM: 10, camera: roundedRect{6, 8, 38, 38, 19}},
		{productID: "402", nameCN: "nova 12", nameEN: "nova 12", price: "45.00", stock: 14,
			widthMM: 74.7, heightMM: 161.0, cornerMM: 9, camera: roundedRect{5, 6, 30, 30, 15}},
	}},
}

// productByID finds a phone model by product id.
func productByID(id string) (phoneModel, bool) {
	for _, b := range catalogue {
		for _, m := range b.models {
			if m.productID == id {
				return m, true
			}
		}
	}
	return phoneModel{}, false
}

// brandsFor returns the catalogue as machineProductList sends it, with
// image URLs under base (scheme://host of the request).
func brandsFor(base string) []protocol.Brand {
	out := make([]protocol.Brand, 0, len(catalogue))
	for _, b := range catalogue {
		pb := protocol.Brand{ID: protocol.Text(b.id), NameCN: b.nameCN, NameEN: b.nameEN}
		for _, m := range b.models {
			pb.ModelList = append(pb.ModelList, protocol.Model{
				ID:        protocol.Text(m.productID),
				ProductID: protocol.Text(m.productID),
				NameCN:    m.nameCN,
				NameEN:    m.nameEN,
				ShowImg:   base + "/assets/show/" + m.productID + ".png",
				PrintImg:  base + "/assets/print/" + m.productID + ".png",
				Price:     protocol.Text(m.price),
				Stock:     protocol.Text(strconv.Itoa(m.stock)),
			})
		}
		out = append(out, pb)
	}
	return out
}
