"""The values an enumerated context key can take, so a rule value that can never match is refused."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

# The channels a visit is read as (visitor/channel.py) and the devices told apart (visitor/device.py).
CHANNELS: tuple[str, ...] = (
    "paid_search",
    "paid_social",
    "social",
    "email",
    "search",
    "referral",
    "direct",
)
DEVICES: tuple[str, ...] = ("desktop", "mobile", "tablet", "bot")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GENDERS = ("women", "men", "kids", "unisex")
# ISO 3166-1 alpha-2, every officially assigned code (the letters GeoIP and CDNs send).
_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRIES = frozenset(_ALPHA_2.split())
_SHOWN = 8  # a set larger than this is named, not listed, in a message


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The values one key can take; `prefix` checks only the tagged entries of a list key."""

    what: str  # "device", "catalog category": how a message names a value of it
    values: frozenset[str]
    prefix: str = ""  # "brand:" for campaign.attributes: only brand:... entries are checked
    # Words marketers use for a value, where the closest spelling would not find it.
    aliases: Mapping[str, str] = field(default_factory=dict)
    # A feed's categories and brands come and go with the seasons ("jackets" in a summer
    # feed is no mistake): only a near miss of one it has is refused.
    seasonal: bool = False

    def refuse(self, value: str) -> str | None:
        """Why `value` can never match (with a "did you mean"), or None when it can."""
        if not value.startswith(self.prefix):
            return None
        word = value[len(self.prefix) :]
        if word in self.values:
            return None
        hint = self.suggest(word)
        if hint is None and self.seasonal:
            return None
        more = f"; did you mean {self.prefix + hint!r}?" if hint else ""
        if len(self.values) <= _SHOWN:
            known = ", ".join(sorted(self.values, key=_listed))
            return f"{value!r} is not a known {self.what} ({known}){more}"
        return f"{value!r} is not a known {self.what}{more}"

    def suggest(self, word: str) -> str | None:
        if (alias := self.aliases.get(word.lower())) is not None:
            return alias
        folded = {v.lower(): v for v in self.values}
        if word.lower() in folded:
            return folded[word.lower()]
        # "monday" for "mon": a known value the word starts with.
        starts = [v for v in self.values if len(v) >= 3 and word.lower().startswith(v.lower())]
        if starts:
            return max(starts, key=len)
        close = difflib.get_close_matches(
            word, self.values, n=1, cutoff=0.75 if self.seasonal else 0.6
        )
        return close[0] if close else None


# The order values are listed in: as the docs list them, else alphabetical.
_ORDER = {v: i for i, v in enumerate(("mobile", "tablet", "desktop", "bot", *WEEKDAYS, *GENDERS))}


def _listed(value: str) -> tuple[int, str]:
    return (_ORDER.get(value, len(_ORDER)), value)


FIXED: dict[str, tuple[Vocabulary, ...]] = {}


def _fixed(keys: tuple[str, ...], vocabulary: Vocabulary) -> None:
    for key in keys:
        FIXED[key] = (*FIXED.get(key, ()), vocabulary)


_fixed(
    ("device",),
    Vocabulary(
        "device",
        frozenset(DEVICES),
        aliases={"phone": "mobile", "smartphone": "mobile", "computer": "desktop", "pc": "desktop"},
    ),
)
_fixed(("weekday",), Vocabulary("weekday", frozenset(WEEKDAYS)))
_fixed(("channel",), Vocabulary("channel", frozenset(CHANNELS)))
_fixed(
    ("campaign.gender", "visitor.gender", "product.gender"),
    Vocabulary(
        "gender",
        frozenset(GENDERS),
        aliases={"woman": "women", "female": "women", "man": "men", "male": "men"},
    ),
)
_fixed(
    ("country",),
    Vocabulary("ISO 3166-1 alpha-2 country code", COUNTRIES, aliases={"uk": "GB", "el": "GR"}),
)

CATEGORY_KEYS = (
    "campaign.category",
    "visitor.category",
    "visitor.categories",
    "cart.categories",
    "product.category",
)


def vocabularies(
    categories: Collection[str] | None = None, brands: Collection[str] | None = None
) -> dict[str, tuple[Vocabulary, ...]]:
    """Every key's vocabularies: the fixed ones, plus the catalog's categories and brands.

    A key may have several (each must accept a value), so a check is added to a key
    without replacing the ones it has.
    """
    found = dict(FIXED)
    if categories:
        category = Vocabulary("catalog category", frozenset(categories), seasonal=True)
        for key in CATEGORY_KEYS:
            found[key] = (*found.get(key, ()), category)
    if brands:
        brand = Vocabulary("catalog brand", frozenset(brands), prefix="brand:", seasonal=True)
        found["campaign.attributes"] = (*found.get("campaign.attributes", ()), brand)
    return found
