"""The slot finder: which `data-sw-slot` elements a page declares, and how it is filled."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopwindow.origin.slots import INJECT, charset_of, parse_page

SCRIPT = b'<script src="/_sw/sw.js" defer></script>'


def filled(page: bytes, fills: dict[str, bytes], script: bytes = SCRIPT) -> bytes:
    return b"".join(parse_page(page, "utf-8").fill(fills, script))


@pytest.mark.parametrize(
    ("page", "holes"),
    [
        (b'<div data-sw-slot="hero"></div>', ("hero",)),
        (b"<DIV DATA-SW-SLOT='Hero'>x</DIV>", ("hero",)),
        (b"<aside data-sw-slot=recommendations >x</aside>", ("recommendations",)),
        (b'<section class="a>b" data-sw-slot="hero"></section>', ("hero",)),
        (b'<img data-sw-slot="hero">', ()),  # void: nothing to fill
        (b'<div data-sw-slot="hero">never closed', ()),
        (b'<div data-sw-slot="two words"></div>', ()),
        (b'<div data-sw-slot=""></div>', ()),
        (b'<div title="data-sw-slot=hero"></div>', ()),
        (b'<div data-sw-slot-extra="hero"></div>', ()),
        (b"<p>data-sw-slot</p>", ()),
        (b'<!-- <div data-sw-slot="hero"></div> -->', ()),
        (b'<script>"<div data-sw-slot=\\"hero\\"></div>"</script>', ()),
        (b'<SCRIPT type="x">"<div data-sw-slot="hero"></div>"</SCRIPT >', ()),
        (b'<textarea><div data-sw-slot="hero"></div></textarea>', ()),
        (b'<title><div data-sw-slot="hero"></div></title>', ()),
        (b'<noscript><div data-sw-slot="hero"></div></noscript>', ()),
        (b'<script-card data-sw-slot="hero"></script-card>', ("hero",)),
        (b'<div data-sw-slot="a"><div data-sw-slot="b"></div></div>', ("a",)),
        (b'<div data-sw-slot="a"></div><span data-sw-slot="b">x</span>', ("a", "b")),
    ],
)
def test_slots_found(page: bytes, holes: tuple[str, ...]) -> None:
    assert parse_page(page, "utf-8").holes == holes


def test_slot_content_ends_at_the_matching_end_tag() -> None:
    page = (
        b'<div data-sw-slot="hero"><div>one <!-- </div> --><script>"</div>"</script>'
        b"<div>two</div></div></div><p>after</p>"
    )
    assert filled(page, {"hero": b"NEW"}) == b'<div data-sw-slot="hero">NEW</div><p>after</p>'


def test_unknown_slots_keep_the_origins_content() -> None:
    page = b'<div data-sw-slot="hero">Origin hero</div><div data-sw-slot="x">Keep</div>'
    assert (
        filled(page, {"hero": b"H"})
        == b'<div data-sw-slot="hero">H</div><div data-sw-slot="x">Keep</div>'
    )


def test_script_goes_before_the_last_real_body_end() -> None:
    page = b"<html><body><!-- </body> --><script>'</body>'</script><p>x</p></body></html>"
    assert filled(page, {}) == page.replace(b"</p></body>", b"</p>" + SCRIPT + b"</body>")


@pytest.mark.parametrize(
    "page",
    [
        b"<p>a fragment, no body end</p>",
        b'<html><body><div data-sw-slot="popup-script"></div></body></html>',
        b'<html><body><script src="/_sw/sw.js"></script></body></html>',
    ],
)
def test_no_script_without_a_body_end_or_when_the_page_loads_it(page: bytes) -> None:
    parsed = parse_page(page, "utf-8")
    assert not parsed.injects
    assert b"".join(parsed.fill({}, SCRIPT)) == page


@pytest.mark.parametrize(
    ("content_type", "head", "charset"),
    [
        ("text/html; charset=UTF-8", b"", "utf-8"),
        ('text/html;charset="iso-8859-1"', b"", "iso8859-1"),
        ("text/html", b'<meta charset="windows-1252">', "cp1252"),
        (
            "text/html",
            b'<meta http-equiv="Content-Type" content="text/html; charset=shift_jis">',
            "shift_jis",
        ),
        ("text/html", b"<p>", "utf-8"),
        ("text/html; charset=utf-16", b"", None),
        ("text/html", b"\xff\xfe<\x00", None),
        ("text/html; charset=klingon", b"", None),
    ],
)
def test_charset(content_type: str, head: bytes, charset: str | None) -> None:
    assert charset_of(content_type, head) == charset


# A page built from pieces, with what filling it must give, computed independently.
NAMES = ("recently-viewed", "hero", "recommendations", "popup-script")
text = st.text(alphabet="abc xyz&;.=\"'/-", max_size=12).map(str.encode)


@st.composite
def slot(draw: st.DrawFn) -> tuple[bytes, bytes, str]:
    """(origin markup, markup once filled with FILL[name], name)."""
    name = draw(st.sampled_from(NAMES))
    tag = draw(st.sampled_from([b"div", b"section", b"aside", b"span", b"DIV"]))
    attr = draw(st.sampled_from([b'"%s"', b"'%s'", b"%s"])) % name.encode()
    before = draw(st.sampled_from([b"", b' class="x"', b" id=a"]))
    inner = draw(
        st.sampled_from(
            [
                b"",
                b"default",
                b"<%s>nested</%s>" % (tag, tag),
                b"<!-- </%s> -->" % tag,
                b'<div data-sw-slot="hero">inner</div>',
            ]
        )
    )
    start = b"<%s%s data-sw-slot=%s>" % (tag, before, attr)
    end = b"</%s>" % tag
    return start + inner + end, start + FILL[name] + end, name


FILL = {name: f"[{name} for this visitor]".encode() for name in NAMES}

decoy = st.sampled_from(
    [
        b'<!-- <div data-sw-slot="hero"></div> -->',
        b"<script>var t = '<div data-sw-slot=\"hero\"></div>';</script>",
        b'<style>/* <div data-sw-slot="hero"> */</style>',
        b'<p title="data-sw-slot=hero">x</p>',
        b"<p>data-sw-slot</p>",
        b"<br>",
        b"<!-- </body> -->",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(text.map(lambda t: (t, t, None)), decoy.map(lambda d: (d, d, None)), slot()),
        max_size=8,
    ),
    document=st.booleans(),
)
def test_filling_matches_an_independent_construction(
    pieces: list[tuple[bytes, bytes, str | None]], document: bool
) -> None:
    origin = b"".join(p[0] for p in pieces)
    expected = b"".join(p[1] for p in pieces)
    names = [p[2] for p in pieces if p[2] is not None]
    if document:
        origin = b"<html><body>" + origin + b"</body></html>"
        script = b"" if "popup-script" in names else SCRIPT
        expected = b"<html><body>" + expected + script + b"</body></html>"
    page = parse_page(origin, "utf-8")
    assert [h for h in page.holes if h != INJECT] == names
    assert b"".join(page.fill(FILL, SCRIPT)) == expected
    assert b"".join(page.fill({}, b"")) == origin


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(alphabet="<>/!-=\"' divsptbody-swlotcrie", max_size=300).map(str.encode),
    )
)
def test_any_bytes_parse_and_come_back_unchanged(raw: bytes) -> None:
    page = parse_page(raw, "utf-8")
    assert b"".join(page.fill({}, b"")) == raw
    assert len(page.parts) == len(page.holes) + 1
