"""Article bodies: Markdown rendered to HTML and sanitised once, when the article is saved.

Nothing that runs survives: no script or style, no event-handler attributes, no ``javascript:``
(or any scheme but http, https and mailto) in links or images; raw HTML in the Markdown goes
through the same sanitiser as everything else.
"""

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "hr",
        "i", "img", "kbd", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody",
        "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
DROPPED_WITH_CONTENT = frozenset({"script", "style"})

_markdown = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def render_markdown(source: str) -> str:
    return nh3.clean(
        _markdown.render(source),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
