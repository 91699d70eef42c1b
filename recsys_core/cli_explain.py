"""``python -m recsys_core explain RUN --user U --item I``: explain one recommendation of a saved run.

Without ``--item`` the user's top recommendation is explained. A language
model is used when ``--llm-url`` (or ``GRAPHREC_LLM_URL``) is set; its text
is checked and replaced by the template text if it fails, and the reason is
printed.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="explain why a saved run recommends an item to a user",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="run id (see the run store)")
    p.add_argument("--user", required=True, help="original user id")
    p.add_argument("--item", help="original item id (default: the user's top recommendation)")
    p.add_argument("--top", type=int, default=3, help="evidence items per kind (default: 3)")
    p.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    p.add_argument("--llm-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:11434 "
                                     "(default: GRAPHREC_LLM_URL)")
    p.add_argument("--llm-model", help="model name on that server (default: GRAPHREC_LLM_MODEL)")
    p.add_argument("--llm-timeout", type=float, default=30.0, help="seconds per request")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    from recsys_core.explain import explain
    from recsys_core.explain.llm import ChatCompletionsNarrator

    try:
        model, ds = load_run(args.run, args.home)
        narrator = ChatCompletionsNarrator.from_settings(args.llm_url, args.llm_model,
                                                         timeout=args.llm_timeout)
        item = args.item
        if item is None:
            items, _ = model.recommend([args.user], k=1)
            item = items[0][0]
        ex = explain(model, ds, args.user, item, narrator=narrator, top=args.top)
    except (KeyError, ValueError, FileNotFoundError, LookupError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        if args.json:
            print(json.dumps({"ok": False, "error": str(message)}))
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps({"ok": True, "run": args.run, **ex.to_dict()}, default=str))
        return EXIT_OK
    ev = ex.evidence
    print(ex.text)
    print(f"\nwritten by: {ex.backend}" + ("" if ex.faithful else " (failed the check)"))
    if ex.fallback_reason:
        print(f"language model not used: {ex.fallback_reason}")
    print(f"\nEvidence for user {ev.user_id}, item {ev.item_id} ({ev.item_title}); "
          f"model {ev.model}, score {ev.score:.4g}, rank {ev.rank if ev.rank else 'seen'}")
    print(f"history effects: {ev.influence_method}")
    frame = ev.to_frame()
    if len(frame):
        print(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return EXIT_OK


def load_run(run_id: str, home: str | None = None):
    """(fitted model, dataset) of a saved run."""
    from recsys_core.runs import RunStore

    return RunStore(home).load(run_id)
