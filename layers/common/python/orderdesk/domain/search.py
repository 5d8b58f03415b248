"""What `q` of GET /orders matches, written once: the words of an order and of a query.

An order's words come from its client as the client is now (not as at ordering) and from the
domains of its items:

* the client's name and company: each word (split at spaces), as written (`berners-lee`,
  `o'brien`) and each run of letters and digits in it (`berners`, `lee`, `o`, `brien`);
* the client's email: the whole address, its local part, and its domain with each parent domain
  of two labels or more (`ada@mail.example.com`, `ada`, `mail.example.com`, `example.com`);
* each domain of the order's items, with its parent domains the same way
  (`shop.example.co.uk`, `example.co.uk`, `co.uk`), never a bare top-level domain.

Everything is compared after Unicode NFKC normalisation and case folding. A query is cut into
words at spaces; it matches an order when every one of its words is the start of one of the
order's words (`ada`, `lovelace`, `ada@exam`, `example.com`, `shop.example` match Ada Lovelace
<ada@example.com> with shop.example.com; `velace` does not).

The terms kept for an order are those words less the ones that start another word of the same
source (an email's local part starts the address, `berners` starts `berners-lee`): a query word
starts one of them exactly when it starts one of the words, and each term is one posting to
write. Whether a term starts a word of another source is not used: a changed email would then
bring back the client's first name as a term of its own and cost writes."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Terms this short get no posting of their own: a one-character query reads the search documents
# instead (it matches a large share of all orders, so reading them in order finds a page soon).
MIN_POSTED = 2

_RUNS = re.compile(r"[^\W_]+")  # letters and digits of any script


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _name_words(text: str | None) -> set[str]:
    out: set[str] = set()
    for piece in normalize(text or "").split():
        runs = _RUNS.findall(piece)
        if not runs:
            continue
        # the piece without the punctuation around it ("ltd." -> "ltd", "(acme)" -> "acme"),
        # and the runs after its first (which starts the piece: a word starting it starts that)
        start, end = piece.find(runs[0]), piece.rfind(runs[-1]) + len(runs[-1])
        out.add(piece[start:end])
        out.update(runs[1:])
    return out


def domain_words(domain: str | None) -> set[str]:
    """A domain and its parent domains of two labels or more; a single label stands for itself."""
    labels = [label for label in "".join(normalize(domain or "").split()).strip(".").split(".") if label]
    if len(labels) < 2:
        return set(labels)
    return {".".join(labels[i:]) for i in range(len(labels) - 1)}


def _email_words(email: str | None) -> set[str]:
    address = "".join(normalize(email or "").split())
    if not address:
        return set()
    local, at, domain = address.rpartition("@")
    if not at:
        return {address}
    # the local part is the start of the whole address: a word starting it starts that
    return {address} | domain_words(domain)


def client_terms(name: str, email: str, company: str | None) -> frozenset[str]:
    """The terms a client gives each of its orders (`name`: first and last name)."""
    return frozenset(_name_words(name) | _email_words(email) | _name_words(company))


def domain_terms(domains: Iterable[str | None]) -> frozenset[str]:
    """The terms an order's domains give it."""
    out: set[str] = set()
    for domain in domains:
        out |= domain_words(domain)
    return frozenset(out)


def query_words(q: str | None) -> list[str]:
    """The words of a query, each once, in the order typed."""
    return list(dict.fromkeys(normalize(q or "").split()))


def matches(terms: Iterable[str], words: Iterable[str]) -> bool:
    """Every word starts one of the terms."""
    pool = list(terms)
    return all(any(term.startswith(word) for term in pool) for word in words)


def join_terms(terms: Iterable[str]) -> str:
    """Terms as stored: sorted, each after one space (so " word" finds a term that starts so)."""
    return "".join(f" {t}" for t in sorted(set(terms)))


def split_terms(stored: str | None) -> frozenset[str]:
    return frozenset((stored or "").split())


@dataclass(frozen=True)
class SearchDoc:
    """What the search index knows of one order: the source every posting is derived from."""

    order_id: str
    placed_at: str
    client_id: str
    client_terms: frozenset[str]
    domain_terms: frozenset[str]

    @property
    def terms(self) -> frozenset[str]:
        return self.client_terms | self.domain_terms

    @property
    def posted(self) -> frozenset[str]:
        """The terms that have a posting list entry for this order (all but one-character ones)."""
        return frozenset(t for t in self.terms if len(t) >= MIN_POSTED)
