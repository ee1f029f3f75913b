"""report_check.py REPORT.html EVAL.json - checks the page `resnet eval --report` wrote against
the numbers `resnet eval --json` gave for the same run: it parses as HTML (every element
closed, in order), holds top-1/top-5 and their counts, one per-class row per class scored,
the confusions and the mistakes with their pictures, every picture an embedded PNG (no
network: no src or href outside the page). Prints "ok ..." / "FAIL ..." lines."""
import base64
import html.parser
import json
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.ids, self.imgs, self.links = [], [], {}, [], []
        self.classes = {}
        self.current_id = None
        self.rows_in = None
        self.per_class_rows = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        for k in ("src", "href"):
            if k in a and tag != "img":
                self.links.append(a[k])
        for c in (a.get("class") or "").split():
            self.classes[c] = self.classes.get(c, 0) + 1
        if a.get("id") == "per-class":
            self.rows_in = "per-class"
        if tag == "tr" and self.rows_in == "per-class" and self.stack and self.stack[-1] == "tbody":
            self.per_class_rows += 1
        if tag not in VOID:
            self.stack.append(tag)
        if "id" in a:
            self.current_id = a["id"]
            self.ids[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes <%s>" % (tag, self.stack[-1] if self.stack else "nothing"))
            return
        self.stack.pop()
        if tag == "table":
            self.rows_in = None
        self.current_id = None

    def handle_data(self, data):
        if self.current_id is not None:
            self.ids[self.current_id] += data


failed = passed = 0


def check(name, ok, detail=""):
    global failed, passed
    print(("ok   %s" if ok else "FAIL %s: " + str(detail)) % name)
    failed += not ok
    passed += bool(ok)


text = open(sys.argv[1], encoding="utf-8").read()
report = json.load(open(sys.argv[2]))
p = Page()
p.feed(text)
p.close()
check("the page starts with its marker line", text.startswith("<!DOCTYPE html><!-- a report written by resnet -->"))
check("it parses as HTML: every element closed, in order", not p.errors and not p.stack, (p.errors[:3], p.stack))
check("top-1 and top-5 are eval --json's",
      p.ids.get("top1") == "%.4f" % report["top1"] and p.ids.get("top5") == "%.4f" % report["top5"] and
      p.ids.get("top1-correct") == str(report["top1_correct"]) and
      p.ids.get("top5-correct") == str(report["top5_correct"]) and p.ids.get("images") == str(report["images"]),
      (p.ids.get("top1"), p.ids.get("top5"), report["top1"], report["top5"]))
scored = {r["label"] for r in report["records"] if "top" in r}
check("one per-class row per class scored (%d)" % len(scored),
      p.per_class_rows == len(scored) and p.ids.get("classes-count") == str(len(scored)), p.per_class_rows)
wrong = [r for r in report["records"] if "top" in r and r["top"][0]["index"] != r["label"]]
pairs = len(report["confused"])
check("%d confusions shown, each with a photo" % pairs,
      p.classes.get("confusion", 0) == pairs, (p.classes.get("confusion"), pairs))
shown = min(len(wrong), 12)
check("%d confident mistakes shown" % shown, p.classes.get("mistake", 0) == shown, p.classes.get("mistake"))
check("pictures: one per confusion, two per mistake (photo, class activation map)",
      len(p.imgs) == pairs + 2 * shown, (len(p.imgs), pairs, shown))
pngs = 0
for src in p.imgs:
    head = "data:image/png;base64,"
    if src.startswith(head) and base64.b64decode(src[len(head):])[:8] == b"\x89PNG\r\n\x1a\n":
        pngs += 1
check("every picture is an embedded PNG", pngs == len(p.imgs), pngs)
check("nothing outside the page (links to its own sections only)", all(l.startswith("#") for l in p.links), p.links)
ece = p.ids.get("ece", "")
try:
    ece_ok = 0 <= float(ece) <= 1
except ValueError:
    ece_ok = False
check("the expected calibration error is there (%s)" % ece, ece_ok and "<svg" in text)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
