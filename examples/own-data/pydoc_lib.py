"""Prose passages from the Python 3.11 Library Reference as shipped in Debian's python3.11-doc
(/usr/share/doc/python3.11/html/library). Code examples (<pre>), API signatures (<dt>), the page title (<h1>),
the 'Source code: Lib/...' line, header links, navigation and footers are left out; the text of each page's main body is cut into
paragraphs, which are packed into passages of about MIN..MAX words (never across pages)."""
import html.parser
import os
import re

LIB = "/usr/share/doc/python3.11/html/library"
BLOCK = {"p", "li", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "div", "section",
         "dl", "ul", "ol", "table", "tr", "blockquote"}


class _Body(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth_main = 0   # div depth inside the main body (0: outside)
        self.skip = 0          # inside pre / dt / headerlink / script / style
        self.stack = []
        self.paras, self.cur = [], []

    def _flush(self):
        t = re.sub(r"\s+", " ", "".join(self.cur)).strip()
        if t:
            self.paras.append(t)
        self.cur = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.depth_main == 0:
            if tag == "div" and a.get("role") == "main":
                self.depth_main = 1
            return
        if tag == "div":
            self.depth_main += 1
        skipping = tag in ("pre", "dt", "h1", "script", "style") or \
            (tag == "a" and "headerlink" in (a.get("class") or ""))
        self.stack.append((tag, skipping))
        if skipping:
            self.skip += 1
        if tag in BLOCK and not self.skip:
            self._flush()

    def handle_endtag(self, tag):
        if self.depth_main == 0:
            return
        # pop to the matching open tag (HTML here is well formed, but be lenient)
        while self.stack:
            t, s = self.stack.pop()
            if s:
                self.skip -= 1
            if t == tag:
                break
        if tag in BLOCK and not self.skip:
            self._flush()
        if tag == "div":
            self.depth_main -= 1
            if self.depth_main == 0:
                self._flush()

    def handle_data(self, data):
        if self.depth_main and not self.skip:
            self.cur.append(data)


def paragraphs(page):
    p = _Body()
    p.feed(open(os.path.join(LIB, page), encoding="utf-8").read())
    p.close()
    return [t for t in p.paras if not t.startswith("Source code:")]


def chapter_pages(chapter_page):
    """Pages listed (toctree level 1) on a chapter page such as 'text.html', plus the pages
    those list in turn (e.g. asyncio-*.html under asyncio.html, email.*.html under email.html)."""
    out, todo = [], [chapter_page]
    while todo:
        h = open(os.path.join(LIB, todo.pop(0)), encoding="utf-8").read()
        main = h[h.find('role="main"'):h.find('class="sphinxsidebar"')]
        for m in re.findall(r'toctree-l\d"><a class="reference internal" href="([^"#]+)"', main):
            if m not in out and m != chapter_page and os.path.exists(os.path.join(LIB, m)):
                out.append(m)
                todo.append(m)
    return out


def passages(page, min_words=100, max_words=300):
    """Greedy packing of a page's paragraphs into passages of min_words..max_words words
    (a single paragraph longer than max_words becomes its own passage); a remainder shorter
    than min_words is dropped."""
    out, cur, n = [], [], 0
    for para in paragraphs(page):
        w = len(para.split())
        if cur and n + w > max_words:
            if n >= min_words:
                out.append(" ".join(cur))
            cur, n = [], 0
        cur.append(para)
        n += w
        if n >= min_words and n >= max_words * 0.6:
            out.append(" ".join(cur))
            cur, n = [], 0
    if n >= min_words:
        out.append(" ".join(cur))
    return out
