"""The faithfulness check: names and numbers must come from the evidence."""

from explain_helpers import catalogue_ds, evidence

from recsys_core.explain.check import aliases, check


def test_faithful_text_passes_and_title_digits_are_not_numbers():
    text = ('We recommend "The Silent Orbit (2019)" because you liked Blade Runner 2049. '
            "41 people who liked it also liked The Silent Orbit; text similarity 0.48 (48%), "
            "both are Sci-Fi, like seven of the 12 items in your history. It ranks 12th of 600, "
            "with 1,234 interactions, 15 in the last 30 days.")
    result = check(text, evidence(), catalogue_ds())
    assert result.ok, result.reason
    assert "2049" not in result.numbers and "2019" not in result.numbers
    assert set(result.named) == {"The Silent Orbit (2019)", "Blade Runner 2049 (2017)"}


def test_item_outside_the_evidence_is_named_in_the_reason():
    result = check('You will love it, just like "Paper Hearts".', evidence(), catalogue_ds())
    assert not result.ok
    assert result.reason == "the generated text named 'Paper Hearts (2021)', which is not in the evidence"


def test_unquoted_full_title_outside_the_evidence_is_caught():
    result = check("Fans of paper hearts (2021) love it.", evidence(), catalogue_ds())
    assert result.reason == "the generated text named 'Paper Hearts (2021)', which is not in the evidence"


def test_invented_quoted_title_is_caught():
    result = check('Like "The Matrix", it is smart.', evidence(), catalogue_ds())
    assert result.reason == "the generated text named 'The Matrix', which is not in the evidence"


def test_numbers_must_match_to_their_written_precision():
    ds = catalogue_ds()
    assert check("Similarity 0.48.", evidence(), ds).ok
    assert check("Similarity 0.481.", evidence(), ds).ok
    bad = check("Similarity 0.49.", evidence(), ds)
    assert bad.reason == "the generated text states the number 0.49, which does not match the evidence"
    assert check("42 people agree.", evidence(), ds).reason == (
        "the generated text states the number 42, which does not match the evidence")
    assert check("Seventeen people agree.", evidence(), ds).reason == (
        "the generated text states the number Seventeen, which does not match the evidence")


def test_one_word_titles_need_their_casing_and_genres_are_not_titles():
    ds = catalogue_ds()
    assert check("It will pick you up; a Drama with Romance in it.", evidence(), ds).ok
    assert check("Watch it, then Up.", evidence(), ds).reason == (
        "the generated text named 'Up (2009)', which is not in the evidence")


def test_other_users_cannot_be_named():
    ds = catalogue_ds()
    assert check("User u1 liked it.", evidence(), ds).ok
    assert check("User u2 liked it too.", evidence(), ds).reason == (
        "the generated text named user 'u2', which is not in the evidence")


def test_empty_text_fails():
    assert check("  ", evidence()).reason == "the generated text is empty"


def test_aliases_drop_year_and_article():
    assert aliases("The Silent Orbit (2019)") == ["The Silent Orbit", "Silent Orbit (2019)",
                                                  "Silent Orbit"]
    assert aliases("Heat") == []


def test_underscore_bold_title_is_still_a_title():
    result = check("Like __Paper Hearts__, it is great.", evidence(), catalogue_ds())
    assert result.reason == "the generated text named 'Paper Hearts (2021)', which is not in the evidence"


def test_other_users_named_in_plural_or_bare_are_caught():
    ds = catalogue_ds()
    assert check("Users u2 and u1 liked it.", evidence(), ds).reason == (
        "the generated text named user 'u2', which is not in the evidence")
    assert check("It was liked by user u1 and u2.", evidence(), ds).reason == (
        "the generated text named user 'u2', which is not in the evidence")
    assert check("It was liked by u1, and it ranks 4th.", evidence(), ds).ok
