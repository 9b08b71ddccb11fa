package push

import (
	"slices"
	"strings"
)

// Notice kinds: the moments worth waking a phone for.
const (
	KindPay    = "pay"    // the order is at the machine: pay there now
	KindReady  = "ready"  // printed: collect the case
	KindFailed = "failed" // the order failed
)

// Languages are the languages notices are written in: those of the web
// app.
func Languages() []string { return []string{"en", "es", "fr", "de", "zh-CN", "ar"} }

// language returns lang when notices exist in it, else English.
func language(lang string) string {
	if slices.Contains(Languages(), lang) {
		return lang
	}
	return "en"
}

// texts are a notice's title and body; {machine} is replaced.
type texts struct{ title, body string }

// pickup is the sentence naming the pickup code, added to a notice's body
// when the order has one.
type pickup string

// messages returns the notice of kind in lang, filled in. The web app's
// strings for the same moments are in agent/web; these are the ones shown
// while the page is closed.
func messages(lang, kind, machine, code string) texts {
	type entry struct {
		notices map[string]texts
		pickup  pickup
	}
	table := map[string]entry{
		"en": {map[string]texts{
			KindPay:    {"Your turn: pay at the kiosk now", "Go to {machine} and pay there to start printing."},
			KindReady:  {"Your case is ready", "Collect it at {machine}."},
			KindFailed: {"There was a problem with your order", "Open the page to see what happened and try again."},
		}, "Pickup code {code}."},
		"es": {map[string]texts{
			KindPay:    {"Es tu turno: paga ahora en el quiosco", "Ve a {machine} y paga allí para empezar a imprimir."},
			KindReady:  {"Tu funda está lista", "Recógela en {machine}."},
			KindFailed: {"Hubo un problema con tu pedido", "Abre la página para ver qué pasó y vuelve a intentarlo."},
		}, "Código de recogida {code}."},
		"fr": {map[string]texts{
			KindPay:    {"C’est votre tour : payez maintenant à la borne", "Allez à {machine} et payez pour lancer l’impression."},
			KindReady:  {"Votre coque est prête", "Récupérez-la à {machine}."},
			KindFailed: {"Un problème est survenu avec votre commande", "Ouvrez la page pour voir ce qui s’est passé et réessayer."},
		}, "Code de retrait {code}."},
		"de": {map[string]texts{
			KindPay:    {"Sie sind dran: Jetzt am Automaten bezahlen", "Gehen Sie zu {machine} und bezahlen Sie dort, damit der Druck startet."},
			KindReady:  {"Ihre Hülle ist fertig", "Holen Sie sie bei {machine} ab."},
			KindFailed: {"Bei Ihrer Bestellung gab es ein Problem", "Öffnen Sie die Seite, um zu sehen, was passiert ist, und es erneut zu versuchen."},
		}, "Abholcode {code}."},
		"zh-CN": {map[string]texts{
			KindPay:    {"轮到您了：请现在到自助机付款", "请前往 {machine} 付款，付款后开始打印。"},
			KindReady:  {"您的手机壳已做好", "请到 {machine} 取件。"},
			KindFailed: {"您的订单出现问题", "打开页面查看详情并重试。"},
		}, "取件码 {code}。"},
		"ar": {map[string]texts{
			KindPay:    {"حان دورك: ادفع الآن عند الجهاز", "توجّه إلى {machine} وادفع هناك لبدء الطباعة."},
			KindReady:  {"غطاؤك جاهز", "استلمه من {machine}."},
			KindFailed: {"حدثت مشكلة في طلبك", "افتح الصفحة لمعرفة ما حدث ثم حاول مرة أخرى."},
		}, "رمز الاستلام {code}."},
	}
	e := table[language(lang)]
	t := e.notices[kind]
	t.body = strings.ReplaceAll(t.body, "{machine}", machine)
	if code != "" && kind != KindFailed {
		sep := " "
		if lang == "zh-CN" {
			sep = ""
		}
		t.body += sep + strings.ReplaceAll(string(e.pickup), "{code}", code)
	}
	return t
}
