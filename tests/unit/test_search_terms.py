"""What `q` matches (domain.search) and the total bands of by_total (keys): no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderdesk.adapters.store import keys
from orderdesk.domain import search

ADA = search.client_terms("Ada Lovelace", "ada@example.com", "Analytical Engines Ltd.") | search.domain_terms(
    ["shop.example.com"])


@pytest.mark.parametrize("q", ["ada", "lovelace", "ada@exam", "example.com", "shop.example", "ADA", "Lovelace",
                               "analytical", "engines", "ltd", "ada lovelace", "lovelace ada", "exa", "shop",
                               "ada@example.com"])
def test_the_words_the_issue_names_find_ada(q: str) -> None:
    # GIVEN Ada Lovelace <ada@example.com> of Analytical Engines Ltd. with shop.example.com
    # WHEN / THEN each query's words all start words of the order
    assert search.matches(ADA, search.query_words(q)), q


@pytest.mark.parametrize("q", ["velace", "ample.com", "com", "ltd.", "ada babbage", "engines-ltd", "lovelace@",
                               "example.org", "hop.example"])
def test_words_that_start_no_word_of_the_order_do_not_find_it(q: str) -> None:
    # GIVEN / WHEN / THEN an inner part of a word, a bare top-level domain, a missing second word
    assert not search.matches(ADA, search.query_words(q)), q


def test_names_are_split_at_spaces_and_again_inside_a_word() -> None:
    # GIVEN a hyphenated and an apostrophed last name, a name of two words, a bracketed company
    terms = search.client_terms("Mary Ann O'Brien-Smith", "mb@x.io", "(Acme)")
    # THEN the word as written, each part of it, and the company without its brackets are found
    for word in ("mary", "ann", "o'brien-smith", "o'bri", "o", "brien", "smi", "acme"):
        assert search.matches(terms, [word]), word
    assert not search.matches(terms, ["(acme"]) and not search.matches(terms, ["rien"])
    # AND a part that starts its word is not kept apart (the word finds it)
    assert "o'brien-smith" in terms and "brien" in terms and "o" not in terms


def test_case_and_unicode_forms_do_not_matter() -> None:
    # GIVEN a name with a capital sharp s and a composed accent
    terms = search.client_terms("Zoë STRAẞE", "zoe@example.de", None)
    # THEN the case-folded, NFKC-normalised query finds it however it is typed
    assert search.matches(terms, search.query_words("ZOË strasse"))
    assert search.matches(terms, search.query_words("zoe\u0308"))  # e + combining diaeresis


def test_a_domain_is_its_parent_domains_of_two_labels_or_more() -> None:
    assert search.domain_words("a.shop.example.co.uk") == {"a.shop.example.co.uk", "shop.example.co.uk",
                                                           "example.co.uk", "co.uk"}
    assert search.domain_words("Example.COM.") == {"example.com"}
    assert search.domain_words("localhost") == {"localhost"}


def test_the_email_is_whole_local_part_and_domains() -> None:
    terms = search.client_terms("A B", "Ada.L+x@Mail.Example.com", None)
    assert {"ada.l+x@mail.example.com", "mail.example.com", "example.com"} <= terms
    for word in ("ada.l+x", "ada.l", "ada.l+x@mail.ex", "mail.example.com", "example.com"):
        assert search.matches(terms, [word]), word
    # the local part starts the address: it is not a term of its own
    assert "ada.l+x" not in terms


def test_one_character_terms_get_no_posting() -> None:
    doc = search.SearchDoc("o1", "2026-01-01T00:00:00Z", "c1", search.client_terms("J Doe", "jd@x.io", None),
                           frozenset())
    assert "j" in doc.terms and "j" not in doc.posted and "doe" in doc.posted


def test_terms_round_trip_through_their_stored_form() -> None:
    stored = search.join_terms(ADA)
    assert stored.startswith(" ") and search.split_terms(stored) == ADA


@pytest.mark.parametrize("total,band", [("0", "TOTAL#0"), ("0.99", "TOTAL#0"), ("1.00", "TOTAL#1"),
                                        ("1.99", "TOTAL#1"), ("2", "TOTAL#2"), ("4.99", "TOTAL#2"),
                                        ("5", "TOTAL#5"), ("19.99", "TOTAL#10"), ("99999.00", "TOTAL#50000"),
                                        ("999999.99", "TOTAL#500000"), ("1000000", "TOTAL#1000000"),
                                        ("999999999999.99", "TOTAL#1000000")])
def test_each_total_has_its_band(total: str, band: str) -> None:
    assert keys.total_band(Decimal(total)) == band


@pytest.mark.parametrize("low,high", [(None, None), ("0", "0"), ("0.01", None), ("20.00", "50.00"),
                                      ("99999.00", None), (None, "1.99"), ("5", "5"), ("1000001", None)])
def test_a_total_range_reads_exactly_the_bands_that_hold_its_totals(low: str | None, high: str | None) -> None:
    # GIVEN totals on and around every band boundary
    totals = sorted({b + d for b in keys.TOTAL_BANDS for d in (Decimal("-0.01"), Decimal(0), Decimal("0.01"))
                     if b + d >= 0} | {Decimal("123456789.12")})
    lo, hi = (Decimal(low) if low else None), (Decimal(high) if high else None)
    # WHEN the bands of the range are listed
    bands = keys.total_bands_between(lo, hi)
    # THEN every total in the range is in one of them, each band once
    inside = [t for t in totals if (lo is None or t >= lo) and (hi is None or t <= hi)]
    assert {keys.total_band(t) for t in inside} <= set(bands)
    assert len(bands) == len(set(bands))


def test_a_word_that_starts_a_word_of_another_source_is_still_a_term_of_its_own() -> None:
    # GIVEN Ada Berners-Lee <ada@example.com> with berners7.com
    doc = search.SearchDoc("o1", "2026-01-01T00:00:00Z", "c1",
                           search.client_terms("Ada Berners-Lee", "ada@example.com", None),
                           search.domain_terms(["berners7.com"]))
    # THEN the first name is posted beside the address it starts: a new email keeps it as it is
    assert doc.posted == {"ada", "ada@example.com", "example.com", "berners-lee", "lee", "berners7.com"}
