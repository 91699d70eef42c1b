"""The template narrator: exact sentences on the seed example, faithful text on the sample."""

import re

import numpy as np
from explain_helpers import evidence, lightgcn_with, seed_dataset

from recsys_core.explain import TemplateNarrator, explain
from recsys_core.explain.check import check
from recsys_core.explain.evidence import HistoryEvidence, PopularityEvidence, TagEvidence
from recsys_core.explain.narrate import ordinal


def seed_model():
    return lightgcn_with(seed_dataset(), np.array([[1.0], [0.0], [1.0], [1.0]]), layers=1)


def test_seed_example_template_text():
    ds, model = seed_dataset(), seed_model()
    ex = explain(model, ds, "u1", "i1")
    assert ex.text == (
        'We recommend "The Silent Orbit (2019)" mainly because you liked "Paper Hearts (2021)". '
        "It is also one of the most popular items, ranking 1st of 2 by its 2 interactions."
    )
    assert (ex.faithful, ex.backend, ex.fallback_reason) == (True, "template", None)
    # u2 rated both items below the median rating (3.5): not "liked", and no one else
    # liked both items, so there is no collaborative path.
    ex2 = explain(model, ds, "u2", "i2")
    assert ex2.text.startswith('We recommend "Paper Hearts (2021)" mainly because of your '
                               'interest in "The Silent Orbit (2019)".')
    assert ex2.evidence.paths == []
    assert ex2.evidence.history[0].rating == 3.0 and not ex2.evidence.history[0].liked


def test_sentence_forms_follow_the_evidence():
    narrate = TemplateNarrator().narrate
    full = narrate(evidence())
    assert full == (
        'We recommend "The Silent Orbit (2019)" mainly because you liked "Blade Runner 2049 (2017)". '
        '41 people who liked "Blade Runner 2049 (2017)" also liked "The Silent Orbit (2019)". '
        'In content it is closest to "Blade Runner 2049 (2017)" from your history '
        "(text similarity 0.48), and both are Sci-Fi. "
        "It is also one of the most popular items, ranking 12th of 600 by its 1,234 interactions."
    )
    two = [HistoryEvidence("a", "Alpha", 0.3, 0.6, True, 5.0),
           HistoryEvidence("b", "Beta", 0.2, 0.4, False, 2.0)]
    niche = PopularityEvidence(9, 300, 600, 40.0, 3)
    text = narrate(evidence(history=two, paths=[], text=[], popularity=niche))
    assert text == (
        'We recommend "The Silent Orbit (2019)" mainly because you liked "Alpha" and also engaged '
        'with "Beta": these are the items in your history that raise its score the most. '
        "It is Sci-Fi, like 7 of the 12 items in your history. "
        "It has been active lately, with 3 of its 9 interactions in the last 30 days."
    )
    cold = narrate(evidence(history=[], history_size=0, paths=[], text=[], tags=[],
                            popularity=PopularityEvidence(9, 300, 600, 40.0, 0)))
    assert cold == ('We recommend "The Silent Orbit (2019)" even though you have no history yet. '
                    "It has 9 interactions so far.")
    weak_tag = narrate(evidence(paths=[], text=[], tags=[TagEvidence("Sci-Fi", 1, 12)],
                                popularity=None))
    assert "Sci-Fi" not in weak_tag


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111, 1001)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
        "1,001st"]


def test_template_on_sample_data_is_faithful_and_names_cited_items(sample_ds, sample_model):
    ds, model = sample_ds, sample_model
    users = ds.user_ids[:: max(1, ds.n_users // 25)]
    items, _ = model.recommend(users, k=1)
    for user, item in zip(users, items[:, 0]):
        ex = explain(model, ds, user, item)
        assert ex.faithful and ex.backend == "template", (user, item, ex.text)
        assert ex.text.startswith(f'We recommend "{ds.item_title(ds.item_index(item))}"')
        ev = ex.evidence
        assert ev.history, "every sampled user has a training history"
        quoted = re.findall(r'"([^"]+)"', ex.text)
        assert {h.title for h in ev.history} <= set(quoted)
        assert set(quoted) <= ev.item_titles()
        assert check(ex.text, ev, ds).ok
        # Evidence is structured and strongest-first.
        frame = ev.to_frame()
        assert list(frame.columns) == ["kind", "item_id", "title", "strength", "detail"]
        effects = [h.effect for h in ev.history]
        assert effects == sorted(effects, reverse=True) and effects[0] > 0
        assert ev.rank == 1  # explained the top recommendation
        assert all(p.users <= p.via_users for p in ev.paths)
        assert ev.popularity.interactions == int((ds.train_interactions["item"]
                                                  == ds.item_index(item)).sum())
