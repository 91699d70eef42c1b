"""``python -m recsys_core serve [RUN ...|latest]``: the HTTP service (FastAPI on uvicorn).

Binds 127.0.0.1 unless ``--host`` says otherwise. ``--api-key`` (or
``GRAPHREC_API_KEY``) makes every ``/v1`` request need ``Authorization:
Bearer KEY``. The named runs are loaded before the server listens; any other
saved run is loaded on its first request (``?run=ID``).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve saved runs over HTTP (REST API, docs at /docs)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", default=["latest"], metavar="RUN",
                   help="run ids to load at start, or 'latest' (default); the first is the "
                        "default run of every endpoint")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free)")
    p.add_argument("--api-key", default=None,
                   help="require 'Authorization: Bearer KEY' (default: GRAPHREC_API_KEY)")
    p.add_argument("--home", help="run store folder (default: GRAPHREC_HOME or ./.graphrec)")
    p.add_argument("--index", default="auto", choices=["auto", "exact", "faiss"],
                   help="top-k by exact scoring, a FAISS index, or auto (an index from "
                        "200,000 items on); an index is used only if recall@10 >= 0.98")
    p.add_argument("--index-kind", default="ivf", choices=["ivf", "hnsw"],
                   help="FAISS index type (default: ivf)")
    p.add_argument("--cache-mb", type=int, default=2048,
                   help="memory bound of the loaded runs, MB (default: 2048)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch/FAISS threads per request (default: 1; requests run concurrently)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import torch
    import uvicorn

    from recsys_core.explain.llm import ChatCompletionsNarrator
    from recsys_core.serve.app import ServeSettings, create_app
    from recsys_core.serve.runs import UnknownRun

    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, args.threads))
    try:
        import faiss

        faiss.omp_set_num_threads(max(1, args.threads))
    except ImportError:  # exact scoring needs no FAISS
        pass
    api_key = args.api_key if args.api_key is not None else os.environ.get("GRAPHREC_API_KEY")
    try:
        settings = ServeSettings(home=args.home, runs=list(args.runs), api_key=api_key or None,
                                 index=args.index, index_kind=args.index_kind,
                                 max_bytes=args.cache_mb << 20,
                                 narrator=ChatCompletionsNarrator.from_settings())
        app = create_app(settings)
    except (UnknownRun, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # The loaded runs live as long as the server: keep the collector from rescanning them
    # (full collections over millions of objects are the latency spikes otherwise).
    gc.collect()
    gc.freeze()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("recsys_core.serve").warning(
            "listening on %s: reachable from other machines%s", args.host,
            "" if api_key else " with no API key")
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=args.log_level == "debug")
    return EXIT_OK
