"""Product pictures drawn from the catalog: an SVG illustration of the category in the product's colours."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from markupsafe import escape

if TYPE_CHECKING:
    from shopwindow.catalog.feed import Product

PATH_PREFIX: Final = "/_sw/img/product/"
WIDTH: Final = 320
HEIGHT: Final = 240
COLOR_TAG: Final = "color:"
# The colour names feeds use, as the paint they stand for.
PAINTS: Final = {
    "black": "#26262a",
    "navy": "#1f2f56",
    "grey": "#8a8d91",
    "gray": "#8a8d91",
    "charcoal": "#45474b",
    "beige": "#d8c7a6",
    "cream": "#efe6d2",
    "white": "#f6f6f3",
    "blue": "#2f6db5",
    "light-blue": "#8fc3e8",
    "red": "#c8312b",
    "orange": "#e8772e",
    "yellow": "#f2c230",
    "brown": "#6b4226",
    "burgundy": "#7a1f33",
    "tan": "#c49a6c",
    "olive": "#6b7a3a",
    "khaki": "#a89a6a",
    "pink": "#e79bb0",
    "purple": "#6a3d8f",
    "green": "#2e8b57",
    "silver": "#c0c4c8",
    "gold": "#c9a227",
}
DEFAULT_PAINT: Final = "#8a8d91"
GOLD: Final = "#c9a227"
_HEX: Final = re.compile(r"^#[0-9a-f]{6}$")


def picture_url(product_id: str) -> str:
    """Where a product's drawn picture is served (what a feed row without an image gets)."""
    return f"{PATH_PREFIX}{quote(product_id, safe='')}.svg"


def paints(tags: tuple[str, ...]) -> tuple[str, str]:
    """The product's main and second colour as hex, from its `color:` tags (unknown: grey)."""
    found = []
    for tag in tags:
        if tag.startswith(COLOR_TAG):
            name = tag[len(COLOR_TAG) :].strip().lower().replace(" ", "-")
            paint = PAINTS.get(name) or (name if _HEX.match(name) else None)
            if paint is not None:
                found.append(paint)
    main = found[0] if found else DEFAULT_PAINT
    second = found[1] if len(found) > 1 else _shade(main, 0.55 if _light(main) else 1.6)
    return main, second


def _channels(paint: str) -> tuple[int, int, int]:
    return int(paint[1:3], 16), int(paint[3:5], 16), int(paint[5:7], 16)


def _light(paint: str) -> bool:
    r, g, b = _channels(paint)
    return 0.299 * r + 0.587 * g + 0.114 * b > 150


def _shade(paint: str, factor: float) -> str:
    """Darker (factor < 1) or lighter (> 1) version of a colour, for outlines and trims."""
    out = []
    for c in _channels(paint):
        v = c * factor if factor < 1 else c + (255 - c) * (factor - 1) / factor
        out.append(max(0, min(255, round(v))))
    return "#{:02x}{:02x}{:02x}".format(*out)


# Each drawing: (main colour, second colour, outline) -> SVG shapes in a 320x240 box.
Drawing = Callable[[str, str, str], str]


def _running_shoe(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M48 150 Q52 112 92 104 L140 96 Q166 70 196 78 L226 92 Q262 108 280 140'
        f' Q286 158 272 164 L58 166 Q46 164 48 150Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M44 162 L282 160 Q288 176 270 184 L64 186 Q42 184 44 162Z" fill="#f4f4f2"'
        f' stroke="{o}" stroke-width="3"/>'
        f'<path d="M70 176 L270 172" stroke="{s}" stroke-width="5"/>'
        f'<path d="M96 140 Q160 120 236 148" fill="none" stroke="{s}" stroke-width="9"'
        ' stroke-linecap="round"/>'
        f'<path d="M170 90 L160 110 M184 86 L176 108 M198 86 L192 106" stroke="{s}"'
        ' stroke-width="4" stroke-linecap="round"/>'
    )


def _sneaker(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M50 156 L56 112 Q60 98 80 98 L140 98 Q160 84 186 92 L220 110'
        f' Q266 122 278 150 L278 160 Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<rect x="44" y="156" width="240" height="26" rx="10" fill="#f6f6f3" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<path d="M226 116 Q262 126 274 152 L226 152Z" fill="{s}" opacity=".85"/>'
        f'<circle cx="96" cy="128" r="12" fill="{s}"/>'
        f'<path d="M150 100 L146 122 M164 98 L160 122 M178 102 L174 124" stroke="{s}"'
        ' stroke-width="4" stroke-linecap="round"/>'
    )


def _boot(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M96 36 L168 36 L170 132 Q214 136 250 156 Q266 166 262 184 L90 184'
        f' Q84 120 96 36Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<rect x="84" y="180" width="184" height="20" rx="6" fill="{_shade(m, 0.45)}"/>'
        f'<rect x="96" y="36" width="72" height="16" fill="{s}"/>'
        f'<path d="M138 70 L162 70 M138 90 L164 90 M138 110 L166 110" stroke="{s}"'
        ' stroke-width="5" stroke-linecap="round"/>'
    )


def _sandal(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M40 170 Q40 150 80 150 L250 146 Q286 148 284 166 Q280 182 250 182 L70 184'
        f' Q40 184 40 170Z" fill="{s}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M150 150 Q170 96 214 102 Q232 112 226 148" fill="none" stroke="{m}"'
        ' stroke-width="16"/>'
        f'<path d="M82 152 Q90 118 128 120 L140 150" fill="none" stroke="{m}" stroke-width="14"/>'
    )


def _bag(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M120 92 Q120 40 160 40 Q200 40 200 92" fill="none" stroke="{o}"'
        ' stroke-width="9"/>'
        f'<path d="M76 90 L244 90 L262 200 L58 200Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<rect x="140" y="118" width="40" height="14" rx="4" fill="{s}"/>'
        f'<path d="M70 150 L250 150" stroke="{s}" stroke-width="3" opacity=".6"/>'
    )


def _jacket(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M120 30 L200 30 L256 56 L286 176 L254 184 L236 110 L234 210 L86 210'
        f' L84 110 L66 184 L34 176 L64 56Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M120 30 L160 64 L200 30" fill="{s}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M160 64 L160 210" stroke="{s}" stroke-width="4"/>'
        f'<rect x="100" y="150" width="36" height="6" fill="{s}"/>'
        f'<rect x="184" y="150" width="36" height="6" fill="{s}"/>'
    )


def _hoodie(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M122 46 L198 46 L256 66 L286 176 L254 184 L236 116 L234 210 L86 210'
        f' L84 116 L66 184 L34 176 L64 66Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M122 48 Q124 14 160 14 Q196 14 198 48 Q180 70 160 70 Q140 70 122 48Z"'
        f' fill="{_shade(m, 0.8)}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M116 160 L204 160 L214 196 L106 196Z" fill="{_shade(m, 0.85)}"'
        f' stroke="{o}" stroke-width="2"/>'
        f'<path d="M150 70 L148 104 M170 70 L172 104" stroke="{s}" stroke-width="4"/>'
    )


def _tshirt(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M122 36 Q160 58 198 36 L262 62 L290 112 L246 128 L236 108 L236 212 L84 212'
        f' L84 108 L74 128 L30 112 L58 62Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M122 36 Q160 66 198 36" fill="none" stroke="{s}" stroke-width="6"/>'
    )


def _dress(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M132 24 L146 24 Q160 40 174 24 L188 24 L196 96 L256 220 L64 220 L124 96Z"'
        f' fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M122 100 L198 100" stroke="{s}" stroke-width="8"/>'
    )


def _jeans(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M104 24 L216 24 L236 224 L178 224 L160 92 L142 224 L84 224Z" fill="{m}"'
        f' stroke="{o}" stroke-width="3"/>'
        f'<rect x="104" y="24" width="112" height="16" fill="{_shade(m, 0.75)}"/>'
        f'<path d="M112 44 Q128 70 150 50 M208 44 Q192 70 170 50" fill="none" stroke="{s}"'
        ' stroke-width="3"/>'
    )


def _socks(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M112 24 L168 24 L168 140 L218 168 Q240 184 226 206 Q214 222 188 212'
        f' L120 176 Q108 168 110 150Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<rect x="112" y="24" width="56" height="22" fill="{s}"/>'
        f'<path d="M112 62 L168 62 M112 74 L168 74" stroke="{s}" stroke-width="5"/>'
        f'<path d="M196 188 Q212 180 222 194" fill="none" stroke="{s}" stroke-width="8"/>'
    )


def _insole(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M60 120 Q60 86 110 84 L220 92 Q276 98 278 126 Q276 156 226 160 L120 160'
        f' Q60 156 60 120Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<ellipse cx="232" cy="126" rx="28" ry="20" fill="{s}" opacity=".7"/>'
        f'<ellipse cx="104" cy="122" rx="22" ry="18" fill="{s}" opacity=".7"/>'
    )


def _cap(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M82 150 Q82 66 160 66 Q238 66 238 150Z" fill="{m}" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<path d="M226 146 Q286 146 296 166 L226 164Z" fill="{_shade(m, 0.7)}" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<circle cx="160" cy="66" r="7" fill="{s}"/>'
        f'<path d="M160 70 L160 148" stroke="{s}" stroke-width="2" opacity=".6"/>'
    )


def _beanie(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M86 168 Q86 70 160 70 Q234 70 234 168Z" fill="{m}" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<rect x="78" y="150" width="164" height="36" rx="8" fill="{s}" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<circle cx="160" cy="62" r="18" fill="{s}"/>'
    )


def _scarf(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M90 60 Q160 30 230 60 L216 92 Q160 68 104 92Z" fill="{m}" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<path d="M180 84 L214 210 L178 214 L152 96Z" fill="{m}" stroke="{o}" stroke-width="3"/>'
        f'<path d="M186 150 L206 146 M192 172 L212 168" stroke="{s}" stroke-width="6"/>'
        f'<path d="M180 214 L180 226 M192 213 L193 225 M204 211 L206 223" stroke="{o}"'
        ' stroke-width="3"/>'
    )


def _belt(m: str, s: str, o: str) -> str:
    return (
        f'<rect x="30" y="104" width="260" height="32" rx="6" fill="{m}" stroke="{o}"'
        ' stroke-width="3"/>'
        '<rect x="220" y="94" width="44" height="52" rx="6" fill="none" stroke="#b8b8b8"'
        ' stroke-width="7"/>'
        f'<circle cx="80" cy="120" r="4" fill="{s}"/><circle cx="110" cy="120" r="4" fill="{s}"/>'
    )


def _wallet(m: str, s: str, o: str) -> str:
    return (
        f'<rect x="70" y="66" width="180" height="120" rx="12" fill="{m}" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<path d="M170 96 L250 96 L250 150 L170 150 Q156 150 156 136 L156 110 Q156 96 170 96Z"'
        f' fill="{_shade(m, 0.8)}" stroke="{o}" stroke-width="3"/>'
        f'<circle cx="180" cy="123" r="7" fill="{s}"/>'
    )


def _sunglasses(m: str, s: str, o: str) -> str:
    return (
        f'<path d="M40 96 L280 96" stroke="{o}" stroke-width="8" stroke-linecap="round"/>'
        f'<path d="M52 96 L146 96 L140 140 Q134 162 100 162 Q62 162 56 136Z" fill="{m}"'
        f' stroke="{o}" stroke-width="4"/>'
        f'<path d="M174 96 L268 96 L264 136 Q258 162 220 162 Q186 162 180 140Z" fill="{m}"'
        f' stroke="{o}" stroke-width="4"/>'
        f'<path d="M146 104 Q160 92 174 104" fill="none" stroke="{o}" stroke-width="6"/>'
        f'<path d="M76 110 L100 104 M196 110 L220 104" stroke="{s}" stroke-width="5"'
        ' stroke-linecap="round" opacity=".7"/>'
    )


def _parcel(m: str, s: str, o: str) -> str:
    return (
        f'<rect x="80" y="60" width="160" height="130" rx="10" fill="{m}" stroke="{o}"'
        ' stroke-width="3"/>'
        f'<path d="M160 60 L160 190 M80 110 L240 110" stroke="{s}" stroke-width="8"/>'
    )


CATEGORY_DRAWINGS: Final[dict[str, Drawing]] = {
    "running-shoes": _running_shoe,
    "sneakers": _sneaker,
    "shoes": _sneaker,
    "boots": _boot,
    "sandals": _sandal,
    "bags": _bag,
    "jackets": _jacket,
    "coats": _jacket,
    "hoodies": _hoodie,
    "sweaters": _hoodie,
    "t-shirts": _tshirt,
    "shirts": _tshirt,
    "tops": _tshirt,
    "dresses": _dress,
    "skirts": _dress,
    "jeans": _jeans,
    "trousers": _jeans,
    "pants": _jeans,
    "socks": _socks,
    "insoles": _insole,
    "caps": _cap,
    "hats": _cap,
    "scarves": _scarf,
    "belts": _belt,
    "wallets": _wallet,
    "sunglasses": _sunglasses,
    "eyewear": _sunglasses,
}
# Accessories are many things: the product's name says which one to draw.
ACCESSORY_WORDS: Final[tuple[tuple[str, Drawing], ...]] = (
    ("beanie", _beanie),
    ("cap", _cap),
    ("hat", _cap),
    ("scarf", _scarf),
    ("belt", _belt),
    ("wallet", _wallet),
    ("sunglasses", _sunglasses),
    ("glasses", _sunglasses),
    ("bag", _bag),
    ("sock", _socks),
)


def drawing_for(product: Product) -> Drawing:
    drawing = CATEGORY_DRAWINGS.get(product.category)
    if drawing is not None:
        return drawing
    name = product.name.lower()
    for word, found in ACCESSORY_WORDS:
        if word in name:
            return found
    return _parcel


def product_svg(product: Product) -> bytes:
    """The product's picture: its category drawn in its colours; premium ones wear a gold ribbon."""
    main, second = paints(product.tags)
    outline = "#9a9a9a" if _light(main) else _shade(main, 0.55)
    # Light products stand on a cool grey, dark ones on a pale tint of their own colour.
    backdrop = "#e4e8ec" if _light(main) else _shade(main, 6.0)
    shapes = drawing_for(product)(main, second, outline)
    premium = product.tier == "premium"
    ribbon = (
        f'<path d="M196 0 L244 0 L320 76 L320 124Z" fill="{GOLD}"/>'
        '<text x="276" y="59" font-family="sans-serif" font-size="15" font-weight="700"'
        ' fill="#fff" text-anchor="middle" transform="rotate(45 276 54)">PREMIUM</text>'
        if premium
        else ""
    )
    frame = f' stroke="{GOLD}" stroke-width="8"' if premium else ""
    title = escape(product.name)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img"><title>{title}</title>'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{backdrop}"{frame}/>'
        f'<ellipse cx="160" cy="214" rx="120" ry="10" fill="#000" opacity=".08"/>'
        f"{shapes}{ribbon}</svg>"
    )
    return svg.encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2s(body, digest_size=8).hexdigest() + '"'


def silhouette_uri(product: Product) -> str:
    """The product's shape in one dark tone, nothing else, as a data: URI for an <img>.

    A drop's piece before it is revealed; inline in the teaser (no request), and
    base64 so the page holds no markup of its own for it.
    """
    ink = "#2b2540"
    shapes = drawing_for(product)(ink, ink, ink)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#e7e4ee"/>{shapes}</svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
