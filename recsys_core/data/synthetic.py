"""A seeded generator of a small, realistic-looking film catalogue with known structure.

The bundled sample in ``sample_data/`` is produced by :func:`generate` and can be
rebuilt byte for byte with::

    python -m recsys_core.data.synthetic --out sample_data

Generative story (every draw comes from one ``numpy.random.Generator``):

* ``K`` latent topics (science fiction, romance, crime, ...). Each item has a
  primary topic and, for a quarter of the catalogue, a secondary one; its topic
  weights ``w_i`` are ``1`` or ``(0.7, 0.3)``.
* Item popularity is long-tailed: ``pop_i ∝ rank^-1.2`` (Zipf) over a
  random ordering of the catalogue.
* Each user belongs to a taste community ``c_u`` (a topic) and has taste
  ``θ_u = 0.8·onehot(c_u) + 0.2·Dirichlet(0.5)``; for 30% of users 0.25 of the
  community's share goes to a second favourite topic.
* A user's ``n_u`` interactions (log-normal activity) are drawn without
  repeats: with probability 0.95 a topic ``t ~ θ_u`` and then an item
  ``i ∝ pop_i · w_i[t]``; otherwise an item ``i ∝ pop_i`` (mainstream hits).
* Rating: ``round(2.4 + 2.3·a_ui + b_u + q_i + ε)`` clipped to 1..5, where
  ``a_ui = θ_u·w_i / max θ_u`` is the taste match, ``b_u``, ``q_i`` are user and
  item biases and ``ε ~ N(0, 0.7)``.
* Timestamps: each user is active in a window inside 2018-2024 and never rates
  an item before its release date (the year in its title).
* Text: an item's title, description and genres are composed from word lists
  of its topics (a mixed item borrows one story element, one theme and one
  title noun from its secondary topic), so description words carry the same
  signal as the interactions; a user's profile sentence names the kinds of film their
  community likes.

No third-party data is used: every name is composed from the lists below.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- word lists


@dataclass(frozen=True)
class Topic:
    """Word lists of one latent topic (a taste community)."""

    name: str  # the genre this topic is sold as
    related: tuple[str, ...]  # other genre tags its films often carry
    title_adjs: tuple[str, ...]
    title_nouns: tuple[str, ...]
    heroes: tuple[str, ...]  # "a <adj> <hero>"
    adjs: tuple[str, ...]
    goals: tuple[str, ...]  # base-form verb phrases: "must <goal>"
    settings: tuple[str, ...]  # "in <setting>"
    themes: tuple[str, ...]  # "a story of <theme>"
    tones: tuple[str, ...]
    tastes: tuple[str, ...]  # for user profiles: "loves <taste>"


TOPICS: tuple[Topic, ...] = (
    Topic(
        name="Sci-Fi",
        related=("Adventure", "Thriller", "Action"),
        title_adjs=("Silent", "Distant", "Binary", "Quantum", "Orbital", "Hollow", "Final",
                    "Cold", "Electric", "Infinite"),
        title_nouns=("Orbit", "Signal", "Nebula", "Colony", "Protocol", "Horizon", "Star",
                     "Singularity", "Frontier", "Eclipse", "Station", "Drift", "Vector",
                     "Void", "Reactor", "Comet"),
        heroes=("starship engineer", "starship captain", "colony pilot", "exiled astronomer",
                "salvage crew", "space marine", "xenobiologist", "alien envoy",
                "freighter pilot", "astronaut"),
        adjs=("stranded", "rogue", "lone", "augmented", "stubborn", "brilliant", "weary",
              "cloned"),
        goals=("decode a signal from a dying star", "restart a failing fusion reactor",
               "outrun an alien warship", "reach the last habitable planet",
               "stop an alien swarm from reaching Earth", "repair the hyperspace gate",
               "uncover who sabotaged the colony ship", "survive first contact",
               "escape a collapsing wormhole", "find the lost orbital fleet"),
        settings=("a derelict space station", "the outer colonies of Jupiter",
                  "a terraformed Mars", "a generation starship", "the asteroid belt",
                  "a spaceport on a distant planet", "a mining outpost on an ice moon", "an orbital research lab",
                  "a galaxy at war", "the edge of a black hole"),
        themes=("alien worlds", "memory and identity", "first contact",
                "survival in deep space", "technology and its cost", "interstellar travel",
                "humanity's future among the stars", "starships and exploration"),
        tones=("cerebral", "tense", "visionary", "epic", "haunting"),
        tastes=("space operas", "hard science fiction", "stories about aliens and starships",
                "films set among the stars", "films about space exploration"),
    ),
    Topic(
        name="Romance",
        related=("Drama", "Comedy", "Music"),
        title_adjs=("Sweet", "Summer", "Secret", "Golden", "Lovely", "Tender", "Late",
                    "Paper", "Lucky", "Blue"),
        title_nouns=("Heart", "Kiss", "Letters", "Wedding", "Promise", "Valentine",
                     "Vineyard", "Serenade", "Rose", "Honeymoon", "Sweetheart", "Waltz",
                     "Embrace", "Bouquet", "Romance", "Proposal"),
        heroes=("florist", "widowed baker", "wedding planner", "music teacher",
                "small-town doctor", "bookshop owner", "violinist", "young architect",
                "retired dancer", "travel writer"),
        adjs=("lovesick", "heartbroken", "shy", "hopeless romantic", "charming",
              "stubborn", "newly single", "dreamy"),
        goals=("win back a first love", "choose between two suitors",
               "save a family vineyard and find love", "plan the wedding of an old flame",
               "answer a stranger's love letters", "fall for a rival",
               "keep a summer romance alive", "rediscover love after loss",
               "fake an engagement that turns real", "reunite with a childhood sweetheart"),
        settings=("a seaside village in Italy", "a Paris bakery", "a snowy mountain lodge",
                  "a vineyard in Provence", "the Scottish Highlands", "a small bookshop",
                  "a summer festival town", "a sleepy harbour town", "a lavender farm",
                  "a rainy London spring"),
        themes=("love and longing", "second chances", "heartbreak and healing",
                "romance and destiny", "family and marriage", "letters and love",
                "passion and commitment", "love across distance"),
        tones=("heartwarming", "tender", "bittersweet", "swoon-worthy", "gentle"),
        tastes=("love stories", "romantic dramas", "tales of second chances",
                "wedding romances", "swoon-worthy period romances"),
    ),
    Topic(
        name="Crime",
        related=("Thriller", "Mystery", "Drama"),
        title_adjs=("Dirty", "Dead", "Hidden", "Crooked", "Black", "Last", "Silent",
                    "Stolen", "Double", "Deadly"),
        title_nouns=("Heist", "Alibi", "Witness", "Verdict", "Cartel", "Motive", "Ransom",
                     "Precinct", "Suspect", "Evidence", "Racket", "Informant", "Syndicate",
                     "Detective", "Warrant", "Getaway"),
        heroes=("homicide detective", "defence lawyer", "undercover cop", "safecracker",
                "forensic analyst", "mob accountant", "rookie investigator",
                "retired inspector", "getaway driver", "crime reporter"),
        adjs=("corrupt", "disgraced", "relentless", "cynical", "hard-boiled", "desperate",
              "ruthless", "determined"),
        goals=("solve a string of murders", "pull off one last bank heist",
               "bring down a drug cartel", "prove a client's innocence",
               "expose a corrupt police chief", "track a serial killer",
               "find the informant inside the gang", "recover a stolen fortune",
               "crack a cold case", "testify against the mob"),
        settings=("the gritty streets of Chicago", "a corrupt precinct", "a Miami casino",
                  "1970s New York", "a small town with a dark secret", "the Marseille docks",
                  "a high-security prison", "a rain-soaked city", "the criminal underworld",
                  "a courtroom"),
        themes=("crime and punishment", "corruption and justice", "murder and deception",
                "loyalty among thieves", "guilt and redemption", "the law and the mob",
                "greed and betrayal", "detective work"),
        tones=("gritty", "tense", "suspenseful", "noir", "twisty"),
        tastes=("gritty crime thrillers", "detective mysteries", "heist films",
                "courtroom dramas", "mob stories"),
    ),
    Topic(
        name="Comedy",
        related=("Family", "Romance", "Drama"),
        title_adjs=("Crazy", "Awkward", "Big", "Totally", "Happy", "Wild", "Accidental",
                    "Grumpy", "Silly", "Perfect"),
        title_nouns=("Roommates", "Weekend", "Party", "Reunion", "Vacation", "Neighbours",
                     "Intern", "Bachelor", "Road Trip", "In-Laws", "Office", "Mixup",
                     "Disaster", "Camping", "Prank", "Karaoke"),
        heroes=("stand-up comedian", "clumsy intern", "slacker", "bachelor",
                "overworked dad", "wannabe chef", "substitute teacher", "wedding crasher",
                "failed magician", "lottery winner"),
        adjs=("hapless", "clumsy", "lazy", "overconfident", "awkward", "cheerful",
              "broke", "eccentric"),
        goals=("survive a disastrous family reunion", "fake a dream vacation",
               "win a ridiculous office contest", "throw the party of the century",
               "hide a pet from the landlord", "get to a wedding on time",
               "run a failing food truck", "pass the driving test at last",
               "win a karaoke championship", "swap lives with a best friend"),
        settings=("a chaotic suburban cul-de-sac", "a roadside motel",
                  "a summer camp", "an open-plan office", "a cramped apartment",
                  "a holiday resort", "a small-town theatre", "a cruise ship",
                  "a crumbling wedding venue", "a suburban backyard"),
        themes=("friendship and mishaps", "family chaos", "hilarious misunderstandings",
                "growing up late", "office politics", "pranks and payback",
                "awkward romance", "laughter and friendship"),
        tones=("hilarious", "zany", "feel-good", "laugh-out-loud", "goofy"),
        tastes=("feel-good comedies", "laugh-out-loud road trips", "silly buddy comedies",
                "office comedies", "family farces"),
    ),
    Topic(
        name="Documentary",
        related=("History", "Biography", "Music"),
        title_adjs=("Untold", "Wild", "True", "Forgotten", "Living", "Deep", "Ancient",
                    "Changing", "Frozen", "Inside"),
        title_nouns=("Planet", "Oceans", "Empire", "Archive", "Rivers", "Chronicles",
                     "Frontline", "Evidence", "Migration", "Reef", "Expedition", "Factory",
                     "Harvest", "Climate", "Glacier", "Atlas"),
        heroes=("wildlife filmmaker", "marine biologist", "investigative journalist",
                "historian", "mountaineer", "climate scientist", "archaeologist",
                "former factory worker", "war photographer", "economist"),
        adjs=("veteran", "fearless", "curious", "pioneering", "patient", "award-winning",
              "independent", "tireless"),
        goals=("follow the great wildebeest migration", "document a melting glacier",
               "investigate a pharmaceutical scandal", "trace the history of the Silk Road",
               "film coral reefs before they vanish", "interview survivors of a famine",
               "reconstruct an ancient city", "expose the cost of fast fashion",
               "follow a season on a family farm", "explain the global financial crisis"),
        settings=("the Serengeti", "Antarctica", "the Amazon rainforest",
                  "the deep ocean", "post-war Europe", "the Great Barrier Reef",
                  "rural India", "the Arctic tundra", "Wall Street", "the Himalayas"),
        themes=("nature and climate", "history and memory", "science and discovery",
                "wildlife and conservation", "economics and society", "real people",
                "the natural world", "investigative journalism"),
        tones=("eye-opening", "informative", "breathtaking", "thought-provoking", "sobering"),
        tastes=("nature documentaries", "true stories", "history documentaries",
                "investigative journalism", "films about science and the planet"),
    ),
    Topic(
        name="Fantasy",
        related=("Adventure", "Family", "Action"),
        title_adjs=("Enchanted", "Dark", "Crimson", "Ancient", "Forgotten", "Shadow",
                    "Emerald", "Cursed", "Iron", "Sacred"),
        title_nouns=("Dragon", "Kingdom", "Sword", "Throne", "Sorcerer", "Crown", "Realm",
                     "Prophecy", "Quest", "Amulet", "Citadel", "Rune", "Wyvern", "Grimoire",
                     "Oracle", "Forest"),
        heroes=("young sorceress", "exiled prince", "dragon rider", "blacksmith's apprentice",
                "elven archer", "wandering knight", "orphaned mage", "dwarf miner",
                "shapeshifter", "forest witch"),
        adjs=("reluctant", "chosen", "banished", "fearless", "cursed", "noble", "humble",
              "enchanted"),
        goals=("recover a stolen crown", "defeat the dark lord", "tame an ancient dragon",
               "break a centuries-old curse", "unite the warring kingdoms",
               "find the last enchanted sword", "fulfil a forgotten prophecy",
               "protect the sacred forest", "master forbidden magic",
               "escort a princess across the realm"),
        settings=("a kingdom of dragons", "an enchanted forest", "a cursed castle",
                  "the mountains of the dwarves", "a realm of elves and giants",
                  "a wizard's tower", "a land of ancient magic", "the northern wastes",
                  "a floating citadel", "a haunted swamp"),
        themes=("magic and destiny", "good and evil", "heroes and legends",
                "dragons and prophecy", "courage and sacrifice", "myth and sorcery",
                "quests and kingdoms", "loyalty and magic"),
        tones=("epic", "magical", "sweeping", "enchanting", "mythic"),
        tastes=("epic fantasy quests", "dragons and magic", "sword-and-sorcery adventures",
                "mythic sagas", "fairy tales for grown-ups"),
    ),
    Topic(
        name="Horror",
        related=("Thriller", "Mystery"),
        title_adjs=("Bloody", "Haunted", "Hollow", "Wicked", "Cursed", "Rotten", "Pale",
                    "Grim", "Sinister", "Midnight"),
        title_nouns=("House", "Ritual", "Possession", "Asylum", "Cellar", "Exorcism",
                     "Nightmare", "Coven", "Graveyard", "Scream", "Mask", "Harvest",
                     "Doll", "Seance", "Creature", "Attic"),
        heroes=("babysitter", "paranormal investigator", "grieving mother", "camp counsellor",
                "priest", "horror novelist", "night-shift nurse", "teenage medium",
                "new homeowner", "film student"),
        adjs=("terrified", "haunted", "sceptical", "sleepless", "isolated", "frightened",
              "possessed", "doomed"),
        goals=("survive a night in a haunted house", "escape a masked killer",
               "perform an exorcism", "break a demonic curse", "hide from the creature",
               "uncover the secret of a satanic cult", "outlast a zombie outbreak",
               "stop a vengeful ghost", "find a way out of the asylum",
               "survive the blood moon ritual"),
        settings=("an abandoned asylum", "a remote cabin in the woods",
                  "a Victorian mansion", "a deserted summer camp", "a cursed village",
                  "a fog-bound graveyard", "an old farmhouse", "a basement with no exit",
                  "a ghost town", "a haunted hospital"),
        themes=("terror and the supernatural", "ghosts and possession",
                "blood and fear", "demons and curses", "slashers and screams",
                "dread and madness", "evil and nightmares", "the occult"),
        tones=("terrifying", "chilling", "gruesome", "creepy", "nerve-shredding"),
        tastes=("terrifying horror films", "ghost stories", "slasher films",
                "supernatural chillers", "anything with a haunted house"),
    ),
    Topic(
        name="Animation",
        related=("Family", "Comedy", "Musical"),
        title_adjs=("Little", "Brave", "Magic", "Tiny", "Jolly", "Fluffy", "Curious",
                    "Rainbow", "Sparkly", "Happy"),
        title_nouns=("Penguin", "Bunny", "Robot", "Puppy", "Dinosaur", "Kitten", "Friends",
                     "Toybox", "Balloon", "Unicorn", "Snowman", "Bear", "Fox", "Cloud",
                     "Panda", "Treehouse"),
        heroes=("talking rabbit", "toy robot", "brave little penguin", "baby dragon",
                "young mermaid", "curious fox cub", "singing snowman", "lost puppy",
                "clumsy dinosaur", "panda cub"),
        adjs=("curious", "cheerful", "tiny", "adorable", "mischievous", "brave",
              "playful", "lovable"),
        goals=("find the way home before winter", "save the toy workshop",
               "learn to fly with new friends", "rescue the forest animals",
               "win the great snow race", "return a lost egg to its family",
               "bring colour back to the town", "make friends at a new school",
               "sing at the big festival", "stop a grumpy giant from stealing sweets"),
        settings=("a colourful toy kingdom", "a snowy forest", "an underwater city",
                  "a candy-coloured town", "a busy farmyard", "a magical treehouse",
                  "the South Pole", "a bustling zoo", "a land of clouds", "a playroom"),
        themes=("friendship and family", "growing up", "kindness and courage",
                "songs and adventure", "teamwork", "family fun", "imagination",
                "animals and friendship"),
        tones=("charming", "colourful", "sweet", "funny", "heartwarming"),
        tastes=("animated family films", "cartoons to watch with the kids",
                "musical animations", "stories with talking animals",
                "colourful family adventures"),
    ),
)

OCCUPATIONS = (
    "student", "teacher", "engineer", "nurse", "programmer", "writer", "artist",
    "salesperson", "doctor", "lawyer", "librarian", "scientist", "administrator",
    "technician", "marketing manager", "homemaker", "chef", "retired", "accountant",
    "designer",
)

#: Start and end of the time span interactions fall in (UTC seconds): 2018-01-01 to 2025-01-01.
T_START = 1514764800
T_END = 1735689600
DAY = 86400

_TITLE_PATTERNS = (
    "The {adj} {noun}",
    "{adj} {noun}",
    "The {noun}",
    "{noun} of the {adj} {noun2}",
    "The Last {noun}",
    "{noun} and {noun2}",
    "Return of the {noun}",
    "A {noun} in the {adj} {noun2}",
    "{noun} Rising",
    "Beyond the {noun}",
)

_FIRST_SENTENCES = (
    "A {adj} {hero} must {goal} in {setting}.",
    "In {setting}, a {adj} {hero} sets out to {goal}.",
    "When everything falls apart, a {adj} {hero} tries to {goal} in {setting}.",
    "Set in {setting}, the story follows a {adj} {hero} who has to {goal}.",
)
_SECOND_SENTENCES = (
    "A {tone} story of {theme}, with {theme2}.",
    "{Tone} and {tone2}, it is a film about {theme}.",
    "A {tone} look at {theme}.",
)


# --------------------------------------------------------------------------- generator


@dataclass
class SyntheticData:
    """Generated frames (as they are written to disk) plus the latent truth behind them."""

    interactions: pd.DataFrame  # user_id, item_id, rating (int 1-5), timestamp (int seconds)
    items: pd.DataFrame  # item_id, title, description, genres ('|'-separated)
    users: pd.DataFrame  # user_id, age, gender, occupation, profile
    item_topic: np.ndarray  # [n_items] primary latent topic of each item
    item_topic_weights: np.ndarray  # [n_items, K] topic mixture of each item (rows sum to 1)
    user_community: np.ndarray  # [n_users] community (favourite topic) of each user
    user_taste: np.ndarray  # [n_users, K] taste over topics (rows sum to 1)
    item_popularity: np.ndarray  # [n_items] base popularity (sums to 1)
    topic_names: tuple[str, ...]

    def write(self, out: str | os.PathLike) -> list[Path]:
        """Write interactions.csv, items.csv and users.csv into ``out`` (atomically)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in (("interactions.csv", self.interactions),
                            ("items.csv", self.items), ("users.csv", self.users)):
            written.append(_write_csv(frame, out / name))
        return written

    def to_dataset(self, name: str = "synthetic"):
        """A :class:`~recsys_core.data.dataset.Dataset` built directly from the frames.

        Faster than writing and loading the CSVs (for benchmarks on large catalogues);
        indices follow catalogue order, which is the sorted order of the ids, and texts
        are composed as :func:`recsys_core.data.load` composes them.
        """
        from recsys_core.data.dataset import Dataset
        from recsys_core.data.loader import compose_texts

        user_ids = self.users["user_id"].to_numpy(dtype=object)
        item_ids = self.items["item_id"].to_numpy(dtype=object)
        inter = pd.DataFrame({
            "user": pd.Index(user_ids).get_indexer(self.interactions["user_id"]).astype(np.int64),
            "item": pd.Index(item_ids).get_indexer(self.interactions["item_id"]).astype(np.int64),
            "rating": self.interactions["rating"].to_numpy(np.float32),
            "timestamp": self.interactions["timestamp"].to_numpy(np.float64),
        })
        items = self.items.drop(columns="item_id").reset_index(drop=True)
        users = self.users.drop(columns="user_id").reset_index(drop=True)
        item_texts, _ = compose_texts(items, None, ("title", "genres", "description"))
        user_texts, _ = compose_texts(users, None, ("age", "gender", "occupation", "profile"),
                                      labelled=True)
        return Dataset(
            interactions=inter, user_ids=user_ids, item_ids=item_ids, items=items, users=users,
            item_texts=item_texts, user_texts=user_texts, name=name, explicit=True,
            schema={"source": "recsys_core.data.synthetic"},
        )


def generate(seed: int = 0, n_users: int = 1000, n_items: int = 600,
             n_interactions: int = 40_000, topics: tuple[Topic, ...] = TOPICS) -> SyntheticData:
    """Generate a catalogue; see the module docstring for the generative story.

    The same arguments give identical frames on every run.
    """
    if n_users < 1 or n_items < 2 * len(topics):
        raise ValueError(f"need at least 1 user and {2 * len(topics)} items, "
                         f"got {n_users} users and {n_items} items")
    min_per_user = 5
    max_per_user = max(min_per_user, n_items // 3)
    if not n_users * min_per_user <= n_interactions <= n_users * max_per_user:
        raise ValueError(
            f"n_interactions must lie between {n_users * min_per_user} and "
            f"{n_users * max_per_user} for {n_users} users and {n_items} items, "
            f"got {n_interactions}")
    rng = np.random.default_rng(seed)
    k = len(topics)

    # ---- items: topics, popularity, quality, release dates
    item_topic = np.arange(n_items) % k  # balanced topics ...
    rng.shuffle(item_topic)  # ... in random catalogue order
    weights = np.zeros((n_items, k))  # [n_items, K]
    weights[np.arange(n_items), item_topic] = 1.0
    has_second = rng.random(n_items) < 0.25
    second = (item_topic + rng.integers(1, k, n_items)) % k  # never the primary topic
    weights[has_second] *= 0.7
    weights[np.flatnonzero(has_second), second[has_second]] = 0.3
    popularity = (1.0 + rng.permutation(n_items)) ** -1.2  # Zipf over a random ranking
    popularity /= popularity.sum()
    quality = rng.normal(0.0, 0.45, n_items)
    release = np.where(rng.random(n_items) < 0.45,
                       rng.integers(T_START - 40 * 365 * DAY, T_START, n_items),
                       rng.integers(T_START, T_END - 60 * DAY, n_items))

    # ---- users: communities and taste
    community_share = rng.dirichlet(np.full(k, 6.0))
    community = rng.choice(k, size=n_users, p=community_share)
    taste = 0.2 * rng.dirichlet(np.full(k, 0.5), size=n_users)  # [n_users, K]
    second_love = rng.random(n_users) < 0.3
    other = (community + rng.integers(1, k, n_users)) % k
    taste[np.arange(n_users), community] += np.where(second_love, 0.55, 0.8)
    taste[np.flatnonzero(second_love), other[second_love]] += 0.25
    taste /= taste.sum(axis=1, keepdims=True)
    user_bias = rng.normal(0.0, 0.35, n_users)

    counts = _activity_counts(rng, n_users, n_interactions, min_per_user, max_per_user)
    users_idx, items_idx = _sample_interactions(rng, taste, weights, popularity, counts)

    # ---- ratings from taste match
    match = (taste[users_idx] * weights[items_idx]).sum(axis=1) / taste[users_idx].max(axis=1)
    mean = 2.4 + 2.3 * match + user_bias[users_idx] + quality[items_idx]
    ratings = np.clip(np.rint(mean + rng.normal(0.0, 0.7, len(mean))), 1, 5).astype(np.int64)

    # ---- timestamps: an activity window per user, never before the item's release
    span = np.maximum(DAY, rng.exponential(240 * DAY, n_users)).astype(np.int64)
    start = rng.integers(T_START, T_END - DAY, n_users)
    t = start[users_idx] + (rng.random(len(users_idx)) * span[users_idx]).astype(np.int64)
    late = t < release[items_idx]
    t[late] = release[items_idx][late] + rng.integers(DAY, 120 * DAY, int(late.sum()))
    t = np.minimum(t, T_END - 1 - rng.integers(0, DAY, len(t)))

    width = max(4, len(str(n_users)), len(str(n_items)))
    user_ids = np.array([f"u{n + 1:0{width}d}" for n in range(n_users)], dtype=object)
    item_ids = np.array([f"m{n + 1:0{width}d}" for n in range(n_items)], dtype=object)

    inter = pd.DataFrame({"user_id": user_ids[users_idx], "item_id": item_ids[items_idx],
                          "rating": ratings, "timestamp": t})
    order = np.lexsort((items_idx, t, users_idx))  # by user, then time
    inter = inter.iloc[order].reset_index(drop=True)

    items = _item_frame(rng, item_ids, item_topic, second, has_second, release, topics)
    users = _user_frame(rng, user_ids, community, taste, topics)
    return SyntheticData(
        interactions=inter, items=items, users=users, item_topic=item_topic,
        item_topic_weights=weights, user_community=community, user_taste=taste,
        item_popularity=popularity, topic_names=tuple(tp.name for tp in topics))


def generate_large(n_interactions: int = 1_000_000, seed: int = 0) -> SyntheticData:
    """A bigger catalogue of the same kind: 40 interactions per user, 100 per item (>= 600 items)."""
    n_users = max(1, n_interactions // 40)
    n_items = max(600, n_interactions // 100)
    return generate(seed=seed, n_users=n_users, n_items=n_items, n_interactions=n_interactions)


def _activity_counts(rng: np.random.Generator, n_users: int, total: int, low: int,
                     high: int) -> np.ndarray:
    """Log-normal interactions per user, each in [low, high], summing exactly to ``total``."""
    share = rng.lognormal(0.0, 0.8, n_users)
    counts = np.full(n_users, low, dtype=np.int64)
    free = np.ones(n_users, dtype=bool)
    for _ in range(n_users + 1):  # each pass caps at least one user or finishes
        remaining = total - counts.sum()
        if remaining == 0:
            break
        raw = remaining * share * free / (share * free).sum()
        add = np.floor(raw).astype(np.int64)
        leftover = remaining - add.sum()
        if leftover:  # largest remainders get the last units
            frac = np.where(free, raw - add, -1.0)
            add[np.argsort(-frac, kind="stable")[:leftover]] += 1
        counts += add
        over = counts > high
        if not over.any():
            break
        counts[over] = high
        free &= ~over
    return counts


def _sample_interactions(rng: np.random.Generator, taste: np.ndarray, weights: np.ndarray,
                         popularity: np.ndarray, counts: np.ndarray,
                         explore: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``counts[u]`` distinct items per user; returns (users, items) index arrays."""
    n_users, k = taste.shape
    n_items = len(popularity)
    # Per-topic item distributions (popularity within the topic) as cumulative sums.
    topic_cdf = np.cumsum(popularity[:, None] * weights, axis=0)  # [n_items, K]
    topic_cdf /= topic_cdf[-1]
    global_cdf = np.cumsum(popularity) / popularity.sum()
    taste_cdf = np.cumsum(taste, axis=1)  # [n_users, K]
    taste_cdf /= taste_cdf[:, -1:]

    have_u = np.zeros(0, dtype=np.int64)
    have_i = np.zeros(0, dtype=np.int64)
    need = counts.copy()
    for _ in range(200):
        if not need.any():
            break
        draw_n = np.where(need > 0, 2 * need + 4, 0)
        users = np.repeat(np.arange(n_users), draw_n)
        m = len(users)
        topic = (rng.random(m)[:, None] > taste_cdf[users]).sum(axis=1).clip(0, k - 1)
        r = rng.random(m)
        items = np.empty(m, dtype=np.int64)
        for tp in range(k):  # one vectorised search per topic
            sel = topic == tp
            items[sel] = np.searchsorted(topic_cdf[:, tp], r[sel], side="right")
        wander = rng.random(m) < explore
        items[wander] = np.searchsorted(global_cdf, r[wander], side="right")
        items = items.clip(0, n_items - 1)
        # Keep the first occurrence of each pair, existing pairs first, then draw order.
        all_u = np.concatenate([have_u, users])
        all_i = np.concatenate([have_i, items])
        _, first = np.unique(all_u * n_items + all_i, return_index=True)
        first.sort()
        all_u, all_i = all_u[first], all_i[first]
        rank = _rank_within(all_u)
        keep = rank < counts[all_u]
        have_u, have_i = all_u[keep], all_i[keep]
        need = counts - np.bincount(have_u, minlength=n_users)
    if need.any():  # a user whose taste is exhausted: fill with unseen items by popularity
        for u in np.flatnonzero(need):
            seen = set(have_i[have_u == u].tolist())
            extra = [i for i in np.argsort(-popularity, kind="stable") if i not in seen][:need[u]]
            have_u = np.concatenate([have_u, np.full(len(extra), u)])
            have_i = np.concatenate([have_i, np.asarray(extra, dtype=np.int64)])
    return have_u, have_i


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """Position of each element among earlier elements of the same group (0, 1, 2, ...)."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    rank = np.empty(len(groups), dtype=np.int64)
    rank[order] = np.arange(len(g)) - run_start
    return rank


# --------------------------------------------------------------------------- text


_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[AEIOUaeiou])")


def _articles(text: str) -> str:
    """Fix "a" before a vowel sound: "a isolated" -> "an isolated"."""
    return _A_BEFORE_VOWEL.sub(lambda m: m.group(1) + "n ", text)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _item_frame(rng: np.random.Generator, item_ids: np.ndarray, item_topic: np.ndarray,
                second: np.ndarray, has_second: np.ndarray, release: np.ndarray,
                topics: tuple[Topic, ...]) -> pd.DataFrame:
    years = pd.to_datetime(release, unit="s").year.to_numpy()
    titles, descriptions, genres = [], [], []
    used: set[str] = set()
    for n in range(len(item_ids)):
        main = topics[item_topic[n]]
        alt = topics[second[n]] if has_second[n] else main
        # A mixed item borrows one story element, one theme and one title noun from its
        # secondary topic (about the 0.3 share of its topic weights); the rest is primary.
        borrowed = _pick(rng, ("heroes", "goals", "settings")) if has_second[n] else ""

        def word(field: str, main=main, alt=alt, borrowed=borrowed) -> str:
            return _pick(rng, getattr(alt if field == borrowed else main, field))

        title = ""
        for _ in range(30):
            pattern = _pick(rng, _TITLE_PATTERNS)
            noun, noun2 = _pick(rng, main.title_nouns), _pick(rng, alt.title_nouns)
            while noun2 == noun:
                noun2 = _pick(rng, alt.title_nouns)
            title = _articles(
                f"{pattern.format(adj=word('title_adjs'), noun=noun, noun2=noun2)} ({years[n]})")
            if title not in used:
                break
        else:  # every draw taken: a sequel of the last one
            title = f"{title[:-7]} II ({years[n]})"
        used.add(title)
        titles.append(title)

        first = _pick(rng, _FIRST_SENTENCES).format(
            adj=word("adjs"), hero=word("heroes"), goal=word("goals"), setting=word("settings"))
        text = first[0].upper() + first[1:]
        if rng.random() < 0.7:
            tone, tone2 = rng.choice(len(main.tones), size=2, replace=False)
            theme = _pick(rng, main.themes)
            theme2 = _pick(rng, alt.themes)
            while theme2 == theme:
                theme2 = _pick(rng, alt.themes)
            text += " " + _pick(rng, _SECOND_SENTENCES).format(
                tone=main.tones[tone], tone2=main.tones[tone2],
                Tone=main.tones[tone].capitalize(), theme=theme, theme2=theme2)
        descriptions.append(_articles(text))

        tags = [main.name]
        if has_second[n] and rng.random() < 0.7:
            tags.append(alt.name)
        if rng.random() < 0.5:
            tags.append(_pick(rng, main.related))
        genres.append("|".join(dict.fromkeys(tags)))
    return pd.DataFrame({"item_id": item_ids, "title": titles, "description": descriptions,
                         "genres": genres})


def _user_frame(rng: np.random.Generator, user_ids: np.ndarray, community: np.ndarray,
                taste: np.ndarray, topics: tuple[Topic, ...]) -> pd.DataFrame:
    n = len(user_ids)
    family = {tp.name: idx for idx, tp in enumerate(topics)}.get("Animation", -1)
    # Younger audiences lean to animation and horror only slightly: ages mostly independent.
    age = np.clip(np.rint(rng.normal(34.0, 11.0, n) + np.where(community == family, 3.0, 0.0)),
                  16, 78).astype(np.int64)
    gender = rng.choice(np.array(["F", "M", "X"], dtype=object), size=n, p=[0.48, 0.48, 0.04])
    ranked = np.argsort(-taste, axis=1, kind="stable")[:, :2]  # [n, 2] two favourite topics
    occupations, profiles = [], []
    for u in range(n):
        if age[u] < 23 and rng.random() < 0.7:
            job = "student"
        elif age[u] > 64 and rng.random() < 0.8:
            job = "retired"
        else:
            job = _pick(rng, tuple(o for o in OCCUPATIONS if o not in ("student", "retired")))
        occupations.append(job)
        favourite = topics[community[u]]
        runner_up = topics[ranked[u, 1] if ranked[u, 0] == community[u] else ranked[u, 0]]
        likes = _pick(rng, favourite.tastes)
        also = _pick(rng, runner_up.tastes) if rng.random() < 0.6 else _pick(rng, favourite.tastes)
        if also == likes:
            also = _pick(rng, runner_up.tastes)
        decade = f"{(age[u] // 10) * 10}s" if age[u] >= 20 else "late teens"
        job_text = "Retired" if job == "retired" else job[0].upper() + job[1:]
        template = _pick(rng, (
            "{job} in their {decade} who loves {likes} and {also}.",
            "{job} in their {decade}; usually watches {likes}, sometimes {also}.",
            "{job} in their {decade} with a weakness for {likes}.",
        ))
        profiles.append(_articles(
            template.format(job=job_text, decade=decade, likes=likes, also=also)))
    return pd.DataFrame({"user_id": user_ids, "age": age, "gender": gender,
                         "occupation": occupations, "profile": profiles})


# --------------------------------------------------------------------------- seed example

#: The seed article's worked example: two users, two items, ratings 5, 4, 3, 2.
SEED_EXAMPLE_INTERACTIONS = pd.DataFrame({
    "user_id": ["u1", "u1", "u2", "u2"],
    "item_id": ["i1", "i2", "i1", "i2"],
    "rating": [5, 4, 3, 2],
})
SEED_EXAMPLE_ITEMS = pd.DataFrame({
    "item_id": ["i1", "i2"],
    "title": ["The Silent Orbit (2019)", "Paper Hearts (2021)"],
    "description": [
        "A stranded starship engineer must decode a signal from a dying star.",
        "A shy florist answers a stranger's love letters in a rainy London spring.",
    ],
    "genres": ["Sci-Fi|Thriller", "Romance|Drama"],
})


def write_seed_example(out: str | os.PathLike) -> list[Path]:
    """Write the 2-user, 2-item example into ``out`` (interactions.csv, items.csv)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [_write_csv(SEED_EXAMPLE_INTERACTIONS, out / "interactions.csv"),
            _write_csv(SEED_EXAMPLE_ITEMS, out / "items.csv")]


def write_sample_data(out: str | os.PathLike, seed: int = 0) -> list[Path]:
    """Everything in ``sample_data/``: the catalogue plus ``seed_example/``."""
    out = Path(out)
    return generate(seed=seed).write(out) + write_seed_example(out / "seed_example")


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write a CSV through a temporary file and rename, so no half-written file is left."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            frame.to_csv(fh, index=False, lineterminator="\n")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; data files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recsys_core.data.synthetic",
        description="Write the bundled sample dataset (a seeded synthetic film catalogue).")
    parser.add_argument("--out", default="sample_data", help="output folder (default: sample_data)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--large", type=int, default=0, metavar="N",
                        help="write only a catalogue with N interactions instead of the sample")
    args = parser.parse_args(argv)
    if args.large:
        paths = generate_large(args.large, seed=args.seed).write(args.out)
    else:
        paths = write_sample_data(args.out, seed=args.seed)
    for p in paths:
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
