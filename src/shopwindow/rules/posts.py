"""Shoppable social posts: rules/posts.yaml read, checked and indexed (pure data, no I/O).

Each post names its channel, its image (with the image's size in pixels) and the
products tagged on it, at pixel positions on that image:

    - id: ig-trail-weekend
      channel: instagram
      image: /_sw/static/img/posts/ig-trail-weekend.svg
      width: 1080
      height: 1350
      caption: "Saturday, 7 am, wet roots."
      tags:
        - {product: w-run-001, x: 610, y: 1090}

`shopwindow check` reports unknown products, tags outside the image, unknown
channels and duplicate ids with file:line:column. The running shop checks the
same except the products: a product that leaves the feed must not stop the next
feed from loading, so its tag is hidden instead (see `catalog_errors`). A post is
counted in the stats like a rule, under the label `post.<id>` (rule ids cannot
hold a dot, so the two never collide).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

from shopwindow.rules.errors import RuleError
from shopwindow.rules.thenspec import CheckEnv, ProductLookup
from shopwindow.rules.yamlsrc import Node

if TYPE_CHECKING:
    from shopwindow.rules.rules import RuleSet

PLACEMENT: Final = "posts"
LABEL_PREFIX: Final = "post."
CHANNELS: Final = (
    "instagram",
    "tiktok",
    "pinterest",
    "facebook",
    "youtube",
    "snapchat",
    "threads",
    "x",
)
CHANNEL_NAMES: Final = {
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "pinterest": "Pinterest",
    "facebook": "Facebook",
    "youtube": "YouTube",
    "snapchat": "Snapchat",
    "threads": "Threads",
    "x": "X",
}
POST_FIELDS: Final = (
    "id",
    "channel",
    "url",
    "image",
    "width",
    "height",
    "alt",
    "title",
    "caption",
    "published",
    "tags",
    "look",
)
TAG_FIELDS: Final = ("product", "x", "y")
REQUIRED: Final = ("id", "channel", "image", "width", "height", "tags")
# "post." + id must fit the beacon's 64-character rule field.
MAX_ID: Final = 48
MAX_POSTS: Final = 2000
MAX_TAGS: Final = 20
MAX_LOOK: Final = 12
MAX_SIDE: Final = 20_000
_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class Tag:
    """A product tagged on a post's image; `x` and `y` are pixels of the image as published."""

    product_id: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    channel: str
    image: str
    width: int
    height: int
    tags: tuple[Tag, ...]
    alt: str = ""
    title: str = ""
    caption: str = ""
    url: str = ""  # the post on the network, if the marketer wants it linked
    published: str = ""  # YYYY-MM-DD; the gallery shows the newest first
    look: tuple[str, ...] = ()  # "complete the look" picks, before the computed ones
    where: str = ""  # file:line:column of the post
    # Every product the post names (tags, then look), with where it is named.
    refs: tuple[tuple[str, str, int, int], ...] = ()

    @property
    def label(self) -> str:
        """The post's name in X-Shopwindow-Rules, beacons and the stats."""
        return LABEL_PREFIX + self.id

    @property
    def channel_name(self) -> str:
        return CHANNEL_NAMES.get(self.channel, self.channel)

    def left(self, tag: Tag) -> float:
        """A tag's position as a percentage of the image's width (what CSS places it by)."""
        return round(100 * tag.x / self.width, 2)

    def top(self, tag: Tag) -> float:
        return round(100 * tag.y / self.height, 2)


class Posts:
    """The posts file, indexed: by id (utm_content, /lp/post/{id}) and newest first (gallery)."""

    __slots__ = ("by_id", "recent", "refs")

    def __init__(
        self, posts: Sequence[Post], refs: Sequence[tuple[str, str, int, int]] = ()
    ) -> None:
        self.by_id: Mapping[str, Post] = {p.id: p for p in posts}
        # Every product the file names, in posts with errors too (for `shopwindow check`).
        self.refs = tuple(refs) or tuple(r for p in posts for r in p.refs)
        # Newest first (a stable sort: posts of one day stay in file order), undated last.
        self.recent: tuple[Post, ...] = tuple(
            sorted(self.by_id.values(), key=lambda p: p.published, reverse=True)
        )

    def get(self, post_id: str | None) -> Post | None:
        if not post_id:
            return None
        return self.by_id.get(post_id.strip().lower())

    def of_label(self, label: str) -> Post | None:
        if not label.startswith(LABEL_PREFIX):
            return None
        return self.by_id.get(label[len(LABEL_PREFIX) :])

    def origin(self, label: str) -> tuple[str, str] | None:
        """Where a stats label comes from, when it names a post: ("posts", file:line:column)."""
        post = self.of_label(label)
        return (PLACEMENT, post.where) if post is not None else None

    def __len__(self) -> int:
        return len(self.by_id)

    def __iter__(self) -> Iterator[Post]:
        return iter(self.recent)


NO_POSTS: Final = Posts(())


def catalog_errors(posts: Posts, catalog: ProductLookup) -> list[RuleError]:
    """Products the posts name that the feed does not have: errors for `shopwindow check`.

    Not part of loading the rules: a running shop hides a tag whose product left the
    feed rather than refuse the feed (which would freeze stock and prices shop-wide).
    """
    return [
        RuleError(file, line, column, f"product {pid!r} is not in the catalog")
        for pid, file, line, column in posts.refs
        if pid not in catalog
    ]


def check_catalog(ruleset: RuleSet, catalog: ProductLookup) -> list[RuleError]:
    """rulefiles.CATALOG_CHECKS: the posts of a compiled rule set against a feed."""
    found = ruleset.data.get("posts")
    return catalog_errors(found, catalog) if isinstance(found, Posts) else []


# --- reading ---------------------------------------------------------------------


def read_posts(root: Node | None, env: CheckEnv) -> tuple[Posts, list[RuleError]]:
    """rules/posts.yaml: a list of posts; every error found, not only the first."""
    if root is None:
        return NO_POSTS, []
    if root.kind != "list":
        return NO_POSTS, [root.error("posts.yaml is a list of posts, each starting with `- id:`")]
    if len(root.items) > MAX_POSTS:
        return NO_POSTS, [root.error(f"at most {MAX_POSTS} posts in one file")]
    errors: list[RuleError] = []
    posts: list[Post] = []
    refs: list[tuple[str, str, int, int]] = []
    seen: dict[str, str] = {}
    for node in root.items:
        post, post_errors = _read_post(node, env, refs)
        errors.extend(post_errors)
        if post is None:
            continue
        if post.id in seen:
            id_node = node.get("id")
            assert id_node is not None
            errors.append(
                id_node.error(f"duplicate post id {post.id!r} (first at {seen[post.id]})")
            )
            continue
        seen[post.id] = post.where
        if not post_errors:
            posts.append(post)
    return Posts(posts, refs), errors


def _read_post(
    node: Node, env: CheckEnv, refs: list[tuple[str, str, int, int]]
) -> tuple[Post | None, list[RuleError]]:
    if node.kind != "map":
        return None, [
            node.error(f"a post is a mapping with id, channel, image, tags; got {node.type_name}")
        ]
    errors: list[RuleError] = []
    if (unknown := node.unknown_key(POST_FIELDS, "post field")) is not None:
        errors.append(unknown)
    missing = [name for name in REQUIRED if node.get(name) is None]
    errors.extend(node.error(f"a post needs `{name}`") for name in missing)
    id_node = node.get("id")
    if id_node is None:
        return None, errors
    post_id = _post_id(id_node, errors)
    channel = _channel(node.get("channel"), errors)
    image = _image(node.get("image"), errors)
    width = _side(node.get("width"), errors)
    height = _side(node.get("height"), errors)
    first = len(refs)
    tags = _tags(node.get("tags"), width, height, refs, errors)
    look = _look(node.get("look"), refs, errors)
    alt = _text(node.get("alt"), "alt", 300, errors)
    title = _text(node.get("title"), "title", 120, errors)
    caption = _text(node.get("caption"), "caption", 2200, errors)  # Instagram's own caption limit
    url = _link(node.get("url"), errors)
    published = _date(node.get("published"), errors)
    if post_id is None:
        return None, errors
    post = Post(
        id=post_id,
        channel=channel,
        image=image,
        width=width or 1,
        height=height or 1,
        tags=tags,
        alt=alt,
        title=title,
        caption=caption,
        url=url,
        published=published,
        look=look,
        where=f"{node.file}:{node.line}:{node.column}",
        refs=tuple(refs[first:]),
    )
    return post, errors


def _post_id(node: Node, errors: list[RuleError]) -> str | None:
    value = node.value if node.kind == "scalar" else None
    if not isinstance(value, str) or not value:
        errors.append(node.error(f"expected a post id, got {node.type_name}"))
        return None
    if not _ID.match(value) or len(value) > MAX_ID:
        errors.append(
            node.error(
                f"a post id uses lower-case letters, digits, '-' and '_' (at most {MAX_ID}):"
                f" {value!r}"
            )
        )
        return None
    return value


def _channel(node: Node | None, errors: list[RuleError]) -> str:
    if node is None:
        return ""
    value = node.value if node.kind == "scalar" else None
    if isinstance(value, str) and value in CHANNELS:
        return value
    shown = value if isinstance(value, str) else node.type_name
    close = difflib.get_close_matches(str(shown).lower(), CHANNELS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    errors.append(node.error(f"unknown channel {shown!r}; {hint}channels: {', '.join(CHANNELS)}"))
    return ""


def _image(node: Node | None, errors: list[RuleError]) -> str:
    if node is None:
        return ""
    value = node.value if node.kind == "scalar" else None
    if not isinstance(value, str) or not value.strip():
        errors.append(node.error(f"expected the image's path or https URL, got {node.type_name}"))
        return ""
    local = value.startswith("/") and not value.startswith("//")
    if not (local or value.startswith("https://")) or "\\" in value or len(value) > 1000:
        errors.append(
            node.error(f"image {value!r} must be a path on this site (/...) or an https:// URL")
        )
        return ""
    return value


def _side(node: Node | None, errors: list[RuleError]) -> int | None:
    if node is None:
        return None
    value = node.value
    if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int):
        errors.append(node.error(f"expected the image's size in pixels, got {node.type_name}"))
        return None
    if not 1 <= value <= MAX_SIDE:
        errors.append(node.error(f"expected a size from 1 to {MAX_SIDE} pixels, got {value}"))
        return None
    return value


def _tags(
    node: Node | None,
    width: int | None,
    height: int | None,
    refs: list[tuple[str, str, int, int]],
    errors: list[RuleError],
) -> tuple[Tag, ...]:
    if node is None:
        return ()
    if node.kind != "list" or not node.items:
        errors.append(node.error("tags is a list of {product, x, y}, one per tagged product"))
        return ()
    if len(node.items) > MAX_TAGS:
        errors.append(node.error(f"at most {MAX_TAGS} tags on one post"))
        return ()
    tags: list[Tag] = []
    tagged: set[str] = set()
    for item in node.items:
        if item.kind != "map":
            errors.append(item.error(f"a tag is a mapping {{product, x, y}}, got {item.type_name}"))
            continue
        if (unknown := item.unknown_key(TAG_FIELDS, "tag field")) is not None:
            errors.append(unknown)
        errors.extend(
            item.error(f"a tag needs `{name}`") for name in TAG_FIELDS if item.get(name) is None
        )
        product = _product(item.get("product"), refs, errors)
        x = _position(item.get("x"), "x", width, errors)
        y = _position(item.get("y"), "y", height, errors)
        if product is None or x is None or y is None:
            continue
        if product in tagged:
            product_node = item.get("product")
            assert product_node is not None
            errors.append(product_node.error(f"product {product!r} is already tagged on this post"))
            continue
        tagged.add(product)
        tags.append(Tag(product, x, y))
    return tuple(tags)


def _product(
    node: Node | None, refs: list[tuple[str, str, int, int]], errors: list[RuleError]
) -> str | None:
    if node is None:
        return None
    value = node.value if node.kind == "scalar" else None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        errors.append(node.error(f"expected a product id, got {node.type_name}"))
        return None
    refs.append((value, node.file, node.line, node.column))
    return value


def _position(
    node: Node | None, axis: str, side: int | None, errors: list[RuleError]
) -> float | None:
    if node is None:
        return None
    value = node.value
    if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(
            node.error(f"expected {axis} in pixels from the image's top left, got {node.type_name}")
        )
        return None
    if side is None:
        return None  # the missing or broken size is reported already
    if not 0 <= value <= side:
        what = "width" if axis == "x" else "height"
        errors.append(
            node.error(
                f"{axis}={value:g} is outside the image: {axis} goes from 0 to {side}"
                f" (the image's {what})"
            )
        )
        return None
    return float(value)


def _look(
    node: Node | None, refs: list[tuple[str, str, int, int]], errors: list[RuleError]
) -> tuple[str, ...]:
    if node is None:
        return ()
    items = node.items if node.kind == "list" else [node]
    if len(items) > MAX_LOOK:
        errors.append(node.error(f"at most {MAX_LOOK} products in look"))
        return ()
    found = [pid for item in items if (pid := _product(item, refs, errors)) is not None]
    return tuple(dict.fromkeys(found))


def _text(node: Node | None, name: str, max_len: int, errors: list[RuleError]) -> str:
    if node is None:
        return ""
    value = node.value
    if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, str | int | float):
        errors.append(node.error(f"`{name}`: expected text, got {node.type_name}"))
        return ""
    text = str(value)
    if len(text) > max_len:
        errors.append(node.error(f"text longer than {max_len} characters"))
        return ""
    return text


def _link(node: Node | None, errors: list[RuleError]) -> str:
    if node is None:
        return ""
    value = node.value if node.kind == "scalar" else None
    if not isinstance(value, str) or not value.startswith("https://") or len(value) > 1000:
        errors.append(node.error("url is the post's https:// address on its network"))
        return ""
    return value


def _date(node: Node | None, errors: list[RuleError]) -> str:
    if node is None:
        return ""
    value = str(node.value) if node.kind == "scalar" else ""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        errors.append(node.error(f"published is a date, YYYY-MM-DD; got {node.plain()!r}"))
        return ""
