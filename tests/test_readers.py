"""Every reader on real files (realdocs) and on small files made here with real tools (fpdf2, pypdf,
python-docx): citations checked against the file, boilerplate gone, bad files skipped with a reason."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from qa_bot.documents import Document, Skipped, load, read_folder, scan_folder, split_document
from qa_bot.documents.check import is_cited
from qa_bot.search import Hit
from qa_bot.render import citation

REALDOCS = Path(os.environ.get("QA_BOT_REALDOCS", "/work/shared/realdocs"))


@pytest.fixture(scope="module")
def realdocs():
    if not REALDOCS.is_dir():
        pytest.skip(f"{REALDOCS} not present")
    folder = scan_folder(REALDOCS)
    return {d.source: (d, split_document(d)) for d in folder.documents}, folder.skipped


def _one(tmp_path: Path, name: str) -> tuple[Document, list]:
    got = load(tmp_path / name, tmp_path)
    assert isinstance(got, Document), got
    return got, split_document(got)


def test_every_realdocs_file_is_read_and_cited(realdocs):
    docs, skipped = realdocs
    assert not [s for s in skipped if s.source != "README.md"]
    for suffix in (".pdf", ".html", ".docx", ".md"):
        assert any(name.endswith(suffix) for name in docs), suffix
    for name, (doc, passages) in docs.items():
        assert len(passages) >= 10, name
        ok = sum(is_cited(doc, p) for p in passages)
        assert ok / len(passages) >= (0.6 if "hermitian" in name else 0.95), name  # TeX lives far from its line
        if name.endswith(".pdf"):
            assert all(p.page is not None and p.page >= 1 for p in passages)


def test_pdf_running_headers_page_numbers_and_hyphens_are_gone(realdocs):
    docs, _ = realdocs
    _, nist = docs["nist-sp800-207-zero-trust.pdf"]
    text = " ".join(p.text for p in nist)
    assert "NIST SP 800-207 ZERO TRUST ARCHITECTURE" not in text
    assert "This publication is available free of charge" not in " ".join(p.text for p in nist if p.page > 3)
    assert "micro-perimeters" in text and "microperimeters" not in text  # written hyphenated elsewhere: kept
    tenets = next(p for p in nist if p.text.startswith("2.1 Tenets of Zero Trust"))
    assert tenets.page == 15 and tenets.section == "2.1 Tenets of Zero Trust"
    _, acl = docs["acl2019-multilingual-ner-transfer.pdf"]
    page2 = " ".join(p.text for p in acl if p.page == 2)
    # two columns in reading order: the left column's last sentence runs on into the right column's section 2
    assert page2.index("few-shot supervised models result in further gains") < page2.index("2 Approach")
    assert "languages" in page2 and "lan- guages" not in page2


def test_html_main_content_sections_and_no_chrome(realdocs):
    docs, _ = realdocs
    doc, moz = docs["wikipedia-mozilla.html"]
    text = " ".join(p.text for p in moz)
    assert doc.parsed.title == "Mozilla"
    for chrome in ("[edit]", "Jump to navigation", "Privacy policy", "Personal tools", "function(", "[1]"):
        assert chrome not in text, chrome
    eich = next(p for p in moz if p.text.startswith("On March 24, 2014, Mozilla promoted Brendan Eich"))
    assert eich.section == "History › Eich CEO promotion controversy"
    assert citation(Hit(1, 1.0, eich, eich.text)) == "wikipedia-mozilla.html § History › Eich CEO promotion controversy"
    doc, v8 = docs["v8-blog-standalone-wasm.html"]
    assert doc.parsed.title.startswith("Outside the web") and doc.parsed.author == "Alon Zakai"
    assert doc.parsed.date == "2019-11-21"
    assert "Retweet this article" not in " ".join(p.text for p in v8)


def test_docx_sections_custom_headings_lists_and_tables(realdocs):
    docs, _ = realdocs
    _, nasa = docs["nasa-cfs-sch-test-report.docx"]
    history = [p for p in nasa if p.section == "OVERVIEW › Test History"]
    assert history and history[0].text.startswith("SCH 1.0.1.0") and history[0].line_start == 1
    assert any(p.kind == "table" and " | " in p.text for p in nasa)
    assert any(p.kind == "navigation" for p in nasa)  # the table of contents
    _, asvs = docs["owasp-asvs-5.0.docx"]
    tables = [p for p in asvs if p.kind == "table"]
    assert len(tables) >= 50 and any(p.text.count(" | ") >= 2 for p in tables)


def test_markdown_sections_and_file_lines(realdocs):
    docs, _ = realdocs
    doc, rust = docs["rust-book-strings.md"]
    p = next(p for p in rust if p.section and p.section.endswith("Updating a String › Concatenating with + or format!"))
    assert doc.parsed.title == "Storing UTF-8 Encoded Text with Strings"  # the one H1 is the title, not a section
    assert citation(Hit(1, 1.0, p, p.text)).startswith("rust-book-strings.md § Updating a String › Concatenating with + or format!, lines ")
    assert is_cited(doc, p)


def _pdf(path: Path, pages: list[str], **kw) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.set_font("helvetica", size=11)
    for i, body in enumerate(pages, start=1):
        pdf.add_page()
        pdf.cell(0, 8, "ACME QUARTERLY REPORT", new_x="LMARGIN", new_y="NEXT")
        for line in body.split("\n"):
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(-20)
        pdf.cell(0, 8, str(i))
    pdf.output(str(path))


def test_pdf_fixture_headers_footers_hyphens_encrypted_scan_and_damaged(tmp_path, caplog):
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter

    pages = [
        "Revenue grew in every region this quarter, and the board\nwelcomed the new inter-\nnational sales office in Lisbon.",
        "The warehouse in Porto was closed in March.\nIts staff moved to the new site.",
        "Costs fell by four percent after the move.",
    ]
    _pdf(tmp_path / "report.pdf", pages)
    doc, passages = _one(tmp_path, "report.pdf")
    text = " ".join(p.text for p in passages)
    assert "ACME QUARTERLY REPORT" not in text and " 2 " not in f" {text} "
    assert "new international sales office" in text
    porto = next(p for p in passages if "Porto" in p.text)
    assert (porto.page, porto.line_start) == (2, 2)  # line 1 of the page is the running header
    assert citation(Hit(1, 1.0, porto, porto.text)).startswith("report.pdf p. 2, line")
    assert all(is_cited(doc, p) for p in passages)

    writer = PdfWriter(clone_from=PdfReader(tmp_path / "report.pdf"))
    writer.encrypt("secret")
    writer.write(tmp_path / "locked.pdf")
    scan = FPDF()
    scan.add_page()
    scan.rect(20, 20, 100, 100, style="F")
    scan.output(str(tmp_path / "scan.pdf"))
    (tmp_path / "broken.pdf").write_bytes((tmp_path / "report.pdf").read_bytes()[:300])
    with caplog.at_level(logging.WARNING):
        docs = read_folder(tmp_path)
    assert [d.source for d in docs] == ["report.pdf"]
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert len(summary) == 1
    assert "broken.pdf (damaged" in summary[0] and "locked.pdf (encrypted)" in summary[0]
    assert "scan.pdf (no text layer" in summary[0] and summary[0].startswith("skipped 3 files: ")


def test_pdf_paragraph_over_a_page_break_is_one_passage_cited_across_it(tmp_path):
    """A sentence that runs from the foot of page 1 onto page 2 ("inter-" / "national") is one passage,
    cited from its first line on page 1 to its last on page 2, with the running header and the page
    number between them left out; a page that opens with a capital starts a paragraph of its own."""
    pages = [
        "Costs fell by four percent.\nRevenue grew in every region this quarter, and the board welcomed the new inter-",
        "national sales office in Lisbon, which opened in May.\nThe warehouse in Porto was closed in March when the lease on the old building ran out",
        "Its staff moved to the new site.",
    ]
    _pdf(tmp_path / "report.pdf", pages)
    doc, passages = _one(tmp_path, "report.pdf")
    lisbon = next(p for p in passages if "Lisbon" in p.text)
    assert lisbon.text.startswith("Revenue grew") and "new international sales office in Lisbon" in lisbon.text
    assert "ACME" not in lisbon.text and "Porto" not in lisbon.text
    assert (lisbon.page, lisbon.line_start, lisbon.page_end, lisbon.line_end) == (1, 3, 2, 2)
    assert citation(Hit(1, 1.0, lisbon, lisbon.text)) == "report.pdf p. 1, line 3 – p. 2, line 2"
    assert all(is_cited(doc, p) for p in passages)
    porto = next(p for p in passages if "Porto" in p.text)
    staff = next(p for p in passages if p.text.startswith("Its staff"))
    assert porto.page_end is None and (staff.page, staff.page_end) == (3, None)  # "Its" opens a new paragraph
    costs = next(p for p in passages if p.text.startswith("Costs"))
    assert costs.page_end is None and costs.text == "Costs fell by four percent."
    from qa_bot.evaluate import Gold, passage_matches

    assert passage_matches(lisbon, Gold("report.pdf", answer="sales office in Lisbon", page=2))  # the next page's words
    assert passage_matches(lisbon, Gold("report.pdf", line=2, page=2)) and passage_matches(lisbon, Gold("report.pdf", line=4, page=1))
    assert not passage_matches(lisbon, Gold("report.pdf", line=2, page=1)) and not passage_matches(lisbon, Gold("report.pdf", line=3, page=2))

    # a long paragraph over the break, cut into windows: each cited where its lines are, page number "2" and all
    sentence = "Sales rose 2 percent in region {} and 1 new store opened there."
    long_pages = ["\n".join(sentence.format(i) for i in range(25)) + "\nThe rest of the country grew and the",
                  "\n".join(["north reported 3 percent growth."] + [sentence.format(i) for i in range(25, 35)]),
                  "Closing words."]
    _pdf(tmp_path / "long.pdf", long_pages)
    doc, passages = _one(tmp_path, "long.pdf")
    assert len(passages) >= 3 and all(is_cited(doc, p) for p in passages)
    assert any(p.page_end == 2 for p in passages) and any((p.page, p.page_end) == (2, None) for p in passages)


def test_pdf_table_row_keeps_its_broken_version_and_last_cell_and_a_caption_stays_with_its_code(tmp_path):
    """A revision-history row as pypdf extracts it: the version cut at a line end ("Acme2." / "0.0-" /
    "beta1.0.x") stays one word and one passage, and the row's last cell ("Acme PMO", then a blank line
    and a heading) ends that passage instead of opening the next. A code box's caption above a blank line
    ("Representation") still labels the code below it."""
    page = "\n".join(["REVISION HISTORY", "Date Version Description Author", "06/30/2023 Acme2.", "0.0-", "beta1.0.x",
                      "Initial release of the template.", "Acme", "PMO", " ", " ", "How to contact us",
                      "For questions, write to us at info@example.org.", " ",
                      "Use the import field to name the plan file that every example of this guide refers to in its",
                      "own text.", "Representation", " ", '<import href="plan.xml" />'])
    _pdf(tmp_path / "guide.pdf", [page])
    doc, passages = _one(tmp_path, "guide.pdf")
    row = next(p for p in passages if "Initial release" in p.text)
    assert "06/30/2023 Acme2.0.0-beta1.0.x Initial release of the template. Acme PMO" in row.text
    contact = next(p for p in passages if "For questions" in p.text)
    assert contact.text.startswith("How to contact us") and "PMO" not in contact.text
    code = next(p for p in passages if "<import" in p.text)
    assert code.text.startswith("Representation") and "Representation" not in next(
        p for p in passages if p.text.startswith("Use the import field")).text  # the reader's own cut
    assert all(is_cited(doc, p) for p in passages)


def test_docx_fixture(tmp_path):
    import docx

    d = docx.Document()
    d.add_heading("Travel policy", 0)
    d.add_heading("Scope", 1)
    d.add_paragraph("This policy covers all staff who travel for work.")
    d.add_paragraph("It also covers contractors on long assignments.")
    d.add_heading("Booking", 1)
    d.add_paragraph("Book trains at least a week ahead.", style="List Bullet")
    d.add_paragraph("Book hotels through the travel desk.", style="List Bullet")
    table = d.add_table(rows=2, cols=3)
    for cell, value in zip(table.rows[0].cells + table.rows[1].cells, ["Class", "Limit", "Approver", "Economy", "500 EUR", "Manager"]):
        cell.text = value
    d.save(tmp_path / "policy.docx")
    doc, passages = _one(tmp_path, "policy.docx")
    assert doc.parsed.title == "Travel policy"
    second = next(p for p in passages if p.text.startswith("It also covers"))
    assert citation(Hit(1, 1.0, second, second.text)) == "policy.docx § Scope, ¶ 2"
    lists = next(p for p in passages if "trains" in p.text)
    assert lists.text == "Book trains at least a week ahead. Book hotels through the travel desk." and lists.section == "Booking"
    [table_p] = [p for p in passages if p.kind == "table"]
    assert table_p.text == "Class | Limit | Approver Economy | 500 EUR | Manager"
    assert (table_p.line_start, table_p.line_end) == (3, 4)


def test_html_fixture(tmp_path):
    (tmp_path / "page.html").write_text(
        "<html><head><title>Install guide - Example</title><style>p{color:red}</style></head><body>\n"
        "<nav><a href='/'>Home</a> <a href='/docs'>Docs</a></nav>\n"
        "<main><h1>Install guide</h1>\n<h2>Installation<span class='mw-editsection'>[edit]</span></h2>\n"
        "<h3>Linux</h3>\n<p>Run the installer as root.<sup class='reference'>[1]</sup> It needs 2 GB of disk.</p>\n"
        "<script>var tracking = 1;</script>\n<ul><li>Debian</li><li>Fedora</li></ul></main>\n"
        "<footer>Copyright Example Corp</footer></body></html>\n",
        encoding="utf-8",
    )
    doc, passages = _one(tmp_path, "page.html")
    assert doc.parsed.title == "Install guide"
    assert [p.text for p in passages] == ["Run the installer as root. It needs 2 GB of disk.", "Debian Fedora"]
    first = passages[0]
    assert citation(Hit(1, 1.0, first, first.text)) == "page.html § Installation › Linux"
    assert first.line_start == 6 and all(is_cited(doc, p) for p in passages)


def test_each_html_list_is_its_own_passage_however_many_there_are(tmp_path):
    """Items joined their list's passage through a table keyed by the list element's id(); lxml makes
    element objects on demand and frees them, so a later list could take a freed id and its items went
    into an unrelated earlier passage (a page's passages differed from run to run; here all 300 lists
    became one)."""
    body = "".join(f"<h2>Part {i}</h2><p>Intro {i}.</p><ul><li>alpha {i}</li><li>beta {i}</li><li>gamma {i}</li></ul>\n"
                   for i in range(300))
    (tmp_path / "lists.html").write_text(f"<html><body><main>{body}</main></body></html>\n", encoding="utf-8")
    doc, passages = _one(tmp_path, "lists.html")
    lists = [p.text for p in passages if p.text.startswith("alpha")]
    assert lists == [f"alpha {i} beta {i} gamma {i}" for i in range(300)]


def test_a_web_pages_last_edited_line_is_kept_as_its_last_paragraph_and_date(tmp_path):
    """A wiki's footer ("This page was last edited on 24 February 2020, at 20:33") goes with the rest of
    the page's furniture, but says when the page last changed: it is kept as the page's last paragraph,
    cited at its line, and is the page's date when nothing else dates it; "when was it last edited" is
    a date question about the document."""
    (tmp_path / "wiki.html").write_text(
        "<html><head><title>Hermitian matrix - Wikipedia</title></head><body>\n"
        "<div id='content'><h1 id='firstHeading'>Hermitian matrix</h1>\n"
        "<div id='mw-content-text'><p>A Hermitian matrix is equal to its own conjugate transpose.</p></div></div>\n"
        "<div id='footer'><ul id='footer-info'>\n"
        "<li id='footer-info-lastmod'> This page was last edited on 24 February 2020, at 20:33<span class='anonymous-show'>&#160;(UTC)</span>.</li>\n"
        "<li id='footer-info-copyright'>Text is available under the Creative Commons License.</li></ul></div>\n"
        "</body></html>\n",
        encoding="utf-8",
    )
    doc, passages = _one(tmp_path, "wiki.html")
    assert doc.parsed.date == "24 February 2020"
    assert [p.text for p in passages] == ["A Hermitian matrix is equal to its own conjugate transpose.",
                                          "This page was last edited on 24 February 2020, at 20:33 (UTC)."]
    assert passages[1].line_start == 5 and all(is_cited(doc, p) for p in passages)
    assert "Creative Commons" not in doc.text  # the rest of the footer still goes
    # a sentence of the text about something changed is not the page's notice; one that opens its paragraph is kept once
    (tmp_path / "law.html").write_text(
        "<html><body><main><p>The law was last changed on 5 May 1990 by parliament.</p>\n"
        "<p>\nLast updated: 2021-03-04 by the editors.</p></main></body></html>\n", encoding="utf-8")
    doc, passages = _one(tmp_path, "law.html")
    assert doc.parsed.date == "2021-03-04"
    assert [p.text for p in passages] == ["The law was last changed on 5 May 1990 by parliament.",
                                          "Last updated: 2021-03-04 by the editors."]
    assert passages[1].line_start == 3  # where its text is, not where its tag opens
    from qa_bot import query

    assert query.meta_type("When was the Wikipedia page on Hermitian matrices last edited?") == "date"
    assert query.meta_type("when was the treaty signed") == ""
    assert query.meta_type("When were the embassy rules last changed?") == ""
    assert query.meta_type("When was the sanctions list last updated?") == ""


def test_html_displayed_formula_ends_the_paragraph_it_completes(realdocs):
    _, herm = realdocs[0]["wikipedia-hermitian-matrix.html"]
    such = next(p for p in herm if "if and only if it is such that" in p.text)
    assert such.text.endswith("such that \\langle v,Av\\rangle \\in \\mathbb {R} ,\\quad v\\in V.")
    adjoint = next(p for p in herm if "equal to its adjoint" in p.text)
    assert "=\\langle Aw,v\\rangle , for any pair of vectors v,w , where" in adjoint.text
    assert adjoint.text.endswith("denotes the inner product operation.")
    matrix_form = next(p for p in herm if p.text.startswith("or in matrix form:"))
    assert matrix_form.text.endswith("A={\\overline {A^{\\mathsf {T}}}} .")
    assert not any(p.text.startswith(("\\langle", "v,w")) for p in herm)  # no formulas left on their own


def test_html_formula_edge_cases_neither_break_nor_repeat_text(tmp_path):
    """A comment beside a formula, a figure after it, thousands of formulas in one place."""
    (tmp_path / "a.html").write_text(
        "<html><body><main><p>Para that ends such that</p><dl><dd><!--c--><math display='block' alttext='x=1'></math></dd>"
        "</dl><p>Para two</p><math display='block' alttext='X'></math> then<figure><figcaption>Caption here.</figcaption>"
        "</figure><p>Many:</p><dl><dd>" + "<math alttext='y'></math>" * 3000 + "</dd></dl></main></body></html>\n",
        encoding="utf-8")
    doc, _ = _one(tmp_path, "a.html")
    texts = [" ".join(t for _, t in c.lines) for c in doc.parsed.chunks]
    assert texts[:4] == ["Para that ends such that x=1", "Para two X then", "Caption here.", "Many:"]
    assert sum(t.count("Caption") for t in texts) == 1 and texts[4].count("y") == 3000


def test_links_out_of_the_folder_and_odd_names(tmp_path, caplog):
    outside = tmp_path / "outside.txt"
    outside.write_text("The root password is kept in a safe place somewhere.\n", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "passwd.txt").symlink_to(outside)
    (docs / "inside.txt").write_text("The garden has twelve apple trees and one pear tree.\n", encoding="utf-8")
    (docs / "alias.txt").symlink_to(docs / "inside.txt")  # a link that stays inside is fine
    odd = os.fsencode(docs) + b"/caf\xe9.txt"
    with open(odd, "wb") as fh:
        fh.write(b"The cafe opens at nine in the morning every weekday.\n")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n")
    with caplog.at_level(logging.WARNING):
        folder = scan_folder(docs)
    names = [d.source for d in folder.documents]
    assert names == ["alias.txt", "caf\\xe9.txt", "inside.txt"]
    assert Skipped("passwd.txt", "link outside the folder; --follow-links lets it in") in folder.skipped
    assert Skipped("image.png", "unsupported format") in folder.skipped
    cafe = split_document(next(d for d in folder.documents if d.source.startswith("caf")))
    assert cafe[0].source == "caf\\xe9.txt" and len(cafe[0].id) == 16
    followed = scan_folder(docs, follow_links=True)
    assert "passwd.txt" in [d.source for d in followed.documents]


def test_line_numbers_count_newlines_only_and_wrapped_prose_stays_whole():
    text = ("Odd separators\n\nFirst line of prose.\fStill the first line.\u2028Same line again.\x85And again.\n"
            "Second line is here.\n\n"
            "The committee met on a Monday morning. It approved the budget for\n"
            "next year and the plan for the new school. The members voted.\n"
            "The chair closed the meeting at noon, and everyone went home.\n")
    passages = split_document(Document("odd.txt", text, "x"))
    lines = text.split("\n")
    second = next(p for p in passages if p.text.endswith("Second line is here."))
    assert (second.line_start, second.line_end) == (3, 4) and lines[3] == "Second line is here."
    assert "Still the first line. Same line again. And again." in second.text
    wrapped = [p for p in passages if "committee" in p.text]
    assert len(wrapped) == 1 and (wrapped[0].line_start, wrapped[0].line_end) == (6, 8)


def test_seeds_metadata_questions_are_answered_with_a_citation(retriever):
    for question in ("Who signed the ambassador's letter?", "What is the name of the Russian ambassador?"):
        answer = retriever.ask(question, k=3)
        assert answer.found, question
        signatures = [h.passage for h in answer.hits if h.passage.kind == "signature"]
        assert signatures and "Alexander Matsegora" in signatures[0].text, question
        assert citation(Hit(1, 1.0, signatures[0], signatures[0].text)).startswith(signatures[0].source + ":")
    # no article passage carries a date from the navigation list under it
    article = [retriever.passages[i] for i in range(len(retriever.passages))
               if retriever.passages[i].source.startswith("002") and retriever.passages[i].kind != "navigation"]
    assert article and {p.date for p in article} == {None}


def test_damaged_word_and_web_files_are_skipped_with_a_reason(tmp_path):
    (tmp_path / "fake.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "empty.html").write_bytes(b"   \n")
    (tmp_path / "chrome.html").write_text("<html><body><nav>Home | About</nav><footer>(c) 2024</footer></body></html>",
                                          encoding="utf-8")
    (tmp_path / "ok.txt").write_text("A sentence that is long enough to be a passage of its own.\n", encoding="utf-8")
    folder = scan_folder(tmp_path)
    assert [d.source for d in folder.documents] == ["ok.txt"]
    reasons = {s.source: s.reason for s in folder.skipped}
    assert reasons["fake.docx"].startswith("damaged or not a Word file")
    assert reasons["empty.html"] == "empty file" and reasons["chrome.html"] == "no text in the page"
